package sandbox

import "net/http"

// reply is an answer computed by a handler before it is written, so that a fault can still
// drop it after its effect happened.
type reply struct {
	status int
	body   any // nil: empty body
	header http.Header
}

// apiError is Zoho's top-level error object. A nil details becomes {}.
func apiError(status int, code, message string, details map[string]any) reply {
	if details == nil {
		details = map[string]any{}
	}
	return reply{status: status, body: map[string]any{
		"code":    code,
		"details": details,
		"message": message,
		"status":  "error",
	}}
}

// wrappedError is an error about the element of a transfer_and_delete body, which Zoho puts in
// the array under the resource key.
func wrappedError(code, message string, details map[string]any) reply {
	r := apiError(http.StatusBadRequest, code, message, details)
	return reply{status: http.StatusBadRequest, body: map[string]any{"transfer_and_delete": []any{r.body}}}
}

func noContent() reply { return reply{status: http.StatusNoContent} }

func ok(body any) reply { return reply{status: http.StatusOK, body: body} }

// Generic error bodies Zoho returns before a request reaches its handler.
func errURLPattern() reply {
	return apiError(http.StatusNotFound, "INVALID_URL_PATTERN", "Please check if the URL trying to access is a correct one", nil)
}

func errMethod() reply {
	return apiError(http.StatusBadRequest, "INVALID_REQUEST_METHOD", "The http request method type is not a valid one", nil)
}

func errAuthentication() reply {
	return apiError(http.StatusUnauthorized, "AUTHENTICATION_FAILURE", "Authentication failed", nil)
}

func errInvalidToken() reply {
	return apiError(http.StatusUnauthorized, "INVALID_TOKEN", "invalid oauth token", nil)
}

func errScope() reply {
	return apiError(http.StatusUnauthorized, "OAUTH_SCOPE_MISMATCH", "invalid oauth scope to access this URL", nil)
}

func errConcurrency() reply {
	return apiError(http.StatusTooManyRequests, "TOO_MANY_REQUESTS", "You have reached the concurrency limit", nil)
}

func errCredits() reply {
	return apiError(http.StatusTooManyRequests, "TOO_MANY_REQUESTS", "You have exceeded the API limit for the day", nil)
}

func errInternal() reply {
	return apiError(http.StatusInternalServerError, "INTERNAL_ERROR", "Internal Server Error", nil)
}

func errUnavailable() reply {
	return apiError(http.StatusServiceUnavailable, "SERVICE_UNAVAILABLE", "Service is temporarily unavailable", nil)
}
