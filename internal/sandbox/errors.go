package sandbox

import (
	"fmt"
	"net/http"
)

// APIError is an AWS error as the service would return it. Code is the
// exact AWS error code so the SDK's typed errors (e.g. *ssmtypes.ParameterNotFound)
// and smithy.APIError.ErrorCode() work.
type APIError struct {
	Status  int
	Code    string
	Message string
	// Sender marks client faults in awsquery <Type> (Sender/Receiver).
	Sender bool
}

func (e *APIError) Error() string { return e.Code + ": " + e.Message }

// Errorf returns a 400 client error.
func Errorf(code, format string, args ...any) *APIError {
	return &APIError{Status: http.StatusBadRequest, Code: code, Message: fmt.Sprintf(format, args...), Sender: true}
}

// Common errors, shaped per service where AWS differs.
func errInvalidParameterValue(format string, args ...any) *APIError {
	return Errorf("InvalidParameterValue", format, args...)
}

func errMissingParameter(name string) *APIError {
	return Errorf("MissingParameter", "The request must contain the parameter %s", name)
}

func errValidation(format string, args ...any) *APIError {
	return Errorf("ValidationError", format, args...)
}

func errValidationException(format string, args ...any) *APIError {
	return Errorf("ValidationException", format, args...)
}
