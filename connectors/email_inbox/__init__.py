"""The `email_inbox` kind: newsletters and Facebook group notifications from an IMAP mailbox."""
