"""SMS messages for staff: status per application, failed messages, resending."""
