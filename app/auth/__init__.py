"""NHS login: the OpenID Connect relying party, accounts and sessions."""
