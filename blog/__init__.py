"""A server-rendered, multi-user Flask blog and CMS.

The application is built by :func:`blog.app.create_app`; importing this package has no side effects.
"""
