"""Example plug-ins for stockmonitor (docs/extending.md)."""
