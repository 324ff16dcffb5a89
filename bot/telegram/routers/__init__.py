"""A router per concern: citizens in private chats, staff in agency groups."""
