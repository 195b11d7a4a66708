"""Email channels behind one interface: SMTP (default), GOV.UK Notify, the dev mail sink."""
