"""The operator console: a browser app over the call log to review turns, label them, and feed the
labels back into `data build` (Starlette + Jinja2, server-rendered; mounted by `callbot serve` under
`/console` and served alone by `callbot console`)."""


class ConsoleError(Exception):
    """A console request or command cannot be carried out (bad user, bad label, unusable database)."""
