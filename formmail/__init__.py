"""formmail: a drop-in form mailer that sends on-domain mail and never loses a submission."""

__version__ = "0.1.0"
