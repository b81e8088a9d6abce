"""Business rules. Each public function is one transaction; none touches request, session or flash."""
