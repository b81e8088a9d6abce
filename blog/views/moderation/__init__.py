"""Comment moderation: the queue and the bulk approve/reject/delete form. The services check who may."""
