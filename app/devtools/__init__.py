"""Development tools, never mounted outside APP_ENV=dev."""
