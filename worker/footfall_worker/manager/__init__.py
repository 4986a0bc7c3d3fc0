"""Local multi-channel mode (`footfall run`): one worker process per channel, supervised, with a live table."""
