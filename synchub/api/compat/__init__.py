"""Routers speaking other systems' APIs over synchub's services; they only translate."""
