"""Rate limits: per client address on sign-in, per account on actions, a ceiling on the rest."""
