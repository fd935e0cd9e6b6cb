"""Built-in plugins. Each is registered through the ``bangban`` entry-point
group exactly like a third-party plugin, and can be left out with
``BANGBAN_PLUGINS``."""
