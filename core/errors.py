"""The one error type services raise for a request they cannot honour: the message says why (naming the field),
`code` lets the API choose the HTTP status (`core.api.service_error_response`)."""


class ServiceError(Exception):
    def __init__(self, message: str, *, code: str = "invalid"):
        super().__init__(message)
        self.code = code
