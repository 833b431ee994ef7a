"""Department adapters and their shared runtime."""
