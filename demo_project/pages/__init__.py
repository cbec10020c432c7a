"""The demo's pages: what hookpipe does, shown on a real site."""
