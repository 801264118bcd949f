package api

import (
	"context"
	"log/slog"
	"net/http"
	"time"
)

// LogHandler wraps a slog handler so every record logged with a request's
// context carries its request id.
func LogHandler(h slog.Handler) slog.Handler { return ctxHandler{h} }

type ctxHandler struct{ slog.Handler }

func (h ctxHandler) Handle(ctx context.Context, r slog.Record) error {
	if id, ok := ctx.Value(requestIDKey{}).(string); ok {
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h ctxHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return ctxHandler{h.Handler.WithAttrs(as)}
}
func (h ctxHandler) WithGroup(name string) slog.Handler { return ctxHandler{h.Handler.WithGroup(name)} }

// statusRecorder remembers the status a handler wrote, for the access log.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// accessLog logs one line per request. Tokens, bodies and headers are never logged.
// Successful requests log at debug level (a busy server answers thousands a
// second); refusals at info; server errors at error.
func accessLog(ctx context.Context, r *http.Request, status int, start time.Time) {
	level := slog.LevelDebug
	switch {
	case status >= 500:
		level = slog.LevelError
	case status >= 400:
		level = slog.LevelInfo
	}
	slog.Log(ctx, level, "request", "method", r.Method, "path", r.URL.Path, "status", status,
		"ms", float64(time.Since(start).Microseconds())/1000)
}
