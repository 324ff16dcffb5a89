"""WhatsApp (through Twilio): inbound translation to neutral events and outbound rendering."""
