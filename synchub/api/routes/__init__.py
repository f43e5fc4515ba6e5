"""One router per resource; handlers only translate between HTTP and the services."""
