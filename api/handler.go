package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	gqlplayground "github.com/99designs/gqlgen/graphql/playground"
	"github.com/jmoiron/sqlx"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"

	"warden/apperr"
	"warden/auth"
	"warden/cache"
	"warden/db"
	"warden/graph"
	"warden/playground"
	"warden/ratelimit"
	"warden/resolvers"
)

// Limits bound what one request may ask of the server.
type Limits struct {
	MaxBodyBytes   int64
	MaxComplexity  int
	MaxDepth       int
	MaxFields      int // fields selected, fragments expanded
	MaxAliases     int
	MaxTokens      int // lexer tokens of the query text
	RequestTimeout time.Duration
}

// DefaultLimits suit interactive clients and scripts alike.
var DefaultLimits = Limits{MaxBodyBytes: 1 << 20, MaxComplexity: 5000, MaxDepth: 12,
	MaxFields: 2000, MaxAliases: 200, MaxTokens: 20000, RequestTimeout: 30 * time.Second}

// Deps is what the HTTP surface is built from.
type Deps struct {
	Resolver   *resolvers.Resolver
	DB         *sqlx.DB
	Redis      redis.UniversalClient // nil: none configured
	Limits     Limits
	Production bool
	Playground bool
	Registry   *prometheus.Registry // nil: a fresh one
	// RateLimits are the request budgets (zero: unlimited), counted in
	// Redis when there is one.
	RateLimits RateLimits
	// CORSOrigins are the browser origins allowed to call the API.
	CORSOrigins []string
}

// NewHandler returns the whole HTTP surface.
func NewHandler(d Deps) http.Handler {
	if d.Registry == nil {
		d.Registry = prometheus.NewRegistry()
	}
	m := newMetrics(d.Registry, d.DB)
	registerCacheMetrics(d.Registry, &d.Resolver.Engine.Stats)

	srv := handler.New(graph.NewExecutableSchema(graph.Config{Resolvers: d.Resolver, Directives: resolvers.Directives()}))
	srv.AddTransport(transport.Options{})
	srv.AddTransport(transport.GET{})
	srv.AddTransport(transport.POST{})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	srv.Use(adminIntrospection{production: d.Production})
	if d.Limits.MaxTokens > 0 {
		srv.SetParserTokenLimit(d.Limits.MaxTokens)
	}
	srv.Use(extension.FixedComplexityLimit(d.Limits.MaxComplexity))
	srv.Use(depthLimit{max: d.Limits.MaxDepth})
	srv.Use(selectionLimit{maxFields: d.Limits.MaxFields, maxAliases: d.Limits.MaxAliases})
	present := presenter(d.Production)
	srv.SetErrorPresenter(present)
	srv.SetRecoverFunc(apperr.Recover)
	srv.AroundOperations(answerWhenOver(present))
	srv.AroundResponses(m.observe)

	mux := http.NewServeMux()
	limiter := ratelimit.NewLimiter(d.Redis, d.Resolver.Engine.Prefix+"rate:")
	gql := clientIP(limiter, d.RateLimits,
		auth.Middleware(d.Resolver.Tokens, perUser(limiter, d.RateLimits.PerUser, d.Resolver.SessionMiddleware(srv))))
	mux.Handle("/graphql", withCORS(d.CORSOrigins, limitBody(d.Limits.MaxBodyBytes, withTimeout(d.Limits.RequestTimeout, gql))))
	if d.Playground {
		mux.Handle("/playground", playground.Handler("Warden", "/graphql",
			gqlplayground.WithGraphiqlUiHeaders(map[string]string{"Authorization": "Bearer <token from login>", "X-Org-ID": "<org id>"})))
		mux.Handle(playground.AssetsPath, playground.Assets())
		mux.Handle("/{$}", http.RedirectHandler("/playground", http.StatusFound))
	}
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}`))
	})
	mux.Handle("/readyz", readiness(d.DB, d.Redis))
	mux.Handle("/metrics", promhttp.HandlerFor(d.Registry, promhttp.HandlerOpts{}))
	return requestID(securityHeaders(mux))
}

// depthLimit refuses operations nested deeper than max: complexity alone
// lets a narrow, very deep query through.
type depthLimit struct{ max int }

func (depthLimit) ExtensionName() string                   { return "DepthLimit" }
func (depthLimit) Validate(graphql.ExecutableSchema) error { return nil }
func (l depthLimit) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	if d := selectionDepth(oc.Operation.SelectionSet, oc.Doc.Fragments, 0); d > l.max {
		return &gqlerror.Error{Message: fmt.Sprintf("operation is %d levels deep; the limit is %d", d, l.max),
			Extensions: map[string]any{"code": apperr.BadUserInput}}
	}
	return nil
}

func selectionDepth(set ast.SelectionSet, frags ast.FragmentDefinitionList, seen int) int {
	if seen > 64 {
		return seen // fragment cycles are rejected by validation; stay bounded anyway
	}
	max := 0
	for _, sel := range set {
		var d int
		switch s := sel.(type) {
		case *ast.Field:
			d = 1 + selectionDepth(s.SelectionSet, frags, seen+1)
		case *ast.InlineFragment:
			d = selectionDepth(s.SelectionSet, frags, seen+1)
		case *ast.FragmentSpread:
			if f := frags.ForName(s.Name); f != nil {
				d = selectionDepth(f.SelectionSet, frags, seen+1)
			}
		}
		if d > max {
			max = d
		}
	}
	return max
}

// limitBody refuses bodies over n bytes with 413, whether the client
// announced the length or streamed the body in chunks, and POSTs that are
// not JSON with 415: both answer a GraphQL error with a code.
func limitBody(n int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") && !strings.HasPrefix(ct, "application/graphql-response+json") {
				writeError(w, http.StatusUnsupportedMediaType, "send the request as Content-Type: application/json")
				return
			}
		}
		if r.Method == http.MethodGet && getIsNotQuery(r) {
			writeError(w, http.StatusMethodNotAllowed, "GET may only carry queries: send mutations as POST")
			return
		}
		if r.ContentLength > n {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body too large: the limit is %d bytes", n))
			return
		}
		if r.Body != nil && r.ContentLength < 0 {
			body, err := io.ReadAll(io.LimitReader(r.Body, n+1))
			if err != nil {
				writeError(w, http.StatusBadRequest, "could not read the request body")
				return
			}
			if int64(len(body)) > n {
				writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body too large: the limit is %d bytes", n))
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		} else if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, n)
		}
		next.ServeHTTP(w, r)
	})
}

func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	b, _ := json.Marshal(map[string]any{"errors": []any{map[string]any{"message": msg, "extensions": map[string]any{"code": apperr.BadUserInput}}}})
	_, _ = w.Write(b)
}

func withTimeout(d time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), d)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		// JSON and errors load nothing; the playground page sets its own.
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		next.ServeHTTP(w, r)
	})
}

type requestIDKey struct{}

// requestID tags each request (X-Request-ID, or a new one) for the logs.
func requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-ID")
		if id == "" || len(id) > 64 {
			b := make([]byte, 8)
			_, _ = rand.Read(b)
			id = hex.EncodeToString(b)
		}
		w.Header().Set("X-Request-ID", id)
		start := time.Now()
		ctx := context.WithValue(r.Context(), requestIDKey{}, id)
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r.WithContext(ctx))
		accessLog(ctx, r, rec.status, start)
	})
}

func readiness(conn *sqlx.DB, rdb redis.UniversalClient) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		status, code := map[string]string{"postgres": "ok", "redis": "ok", "migrations": "ok"}, http.StatusOK
		if err := conn.PingContext(ctx); err != nil {
			status["postgres"], code = "unreachable", http.StatusServiceUnavailable
		} else if pending, err := db.MigrationsPending(ctx, conn); err != nil || pending {
			status["migrations"], code = "pending", http.StatusServiceUnavailable
		}
		switch {
		case rdb == nil:
			status["redis"] = "not configured"
		case rdb.Ping(ctx).Err() != nil:
			// Answers stay correct from Postgres, only slower: degraded, still ready.
			status["redis"] = "degraded: unreachable, serving from Postgres"
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_, _ = w.Write([]byte(`{"postgres":"` + status["postgres"] + `","redis":"` + status["redis"] + `","migrations":"` + status["migrations"] + `"}`))
	})
}

type metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

func newMetrics(reg *prometheus.Registry, conn *sqlx.DB) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "warden_graphql_requests_total",
			Help: "GraphQL operations by operation name and outcome."}, []string{"operation", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "warden_graphql_duration_seconds",
			Help: "GraphQL operation latency.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}, []string{"operation"}),
	}
	reg.MustRegister(m.requests, m.latency, collectors.NewGoCollector(), collectors.NewDBStatsCollector(conn.DB, "warden"))
	return m
}

func (m *metrics) observe(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	start := time.Now()
	resp := next(ctx)
	name := "unknown"
	if graphql.HasOperationContext(ctx) {
		if oc := graphql.GetOperationContext(ctx); oc.OperationName != "" {
			name = oc.OperationName
		} else if oc.Operation != nil {
			name = string(oc.Operation.Operation)
		}
	}
	outcome := "ok"
	if resp != nil && len(resp.Errors) > 0 {
		outcome = "error"
	}
	m.requests.WithLabelValues(name, outcome).Inc()
	m.latency.WithLabelValues(name).Observe(time.Since(start).Seconds())
	return resp
}

// registerCacheMetrics exposes the access-state cache's counters.
func registerCacheMetrics(reg *prometheus.Registry, st *cache.Stats) {
	for name, c := range map[string]*atomic.Int64{
		"warden_access_state_redis_hits_total":       &st.RedisHits,
		"warden_access_state_redis_misses_total":     &st.RedisMisses,
		"warden_access_state_redis_errors_total":     &st.RedisErrors,
		"warden_access_state_redis_stale_total":      &st.RedisStale,
		"warden_access_state_visible_hits_total":     &st.VisibleHits,
		"warden_access_state_visible_computed_total": &st.VisibleComputed,
		"warden_access_state_builds_total":           &st.Builds,
		"warden_access_state_catchups_total":         &st.CatchUps,
	} {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name,
			Help: "Access state cache: " + strings.TrimPrefix(name, "warden_access_state_") + "."},
			func() float64 { return float64(c.Load()) }))
	}
}

// getIsNotQuery reports whether a GET request asks for a mutation or a
// subscription; GET must never change anything.
func getIsNotQuery(r *http.Request) bool {
	doc, err := parser.ParseQuery(&ast.Source{Input: r.URL.Query().Get("query")})
	if err != nil {
		return false // the GraphQL layer reports the syntax error with its code
	}
	name := r.URL.Query().Get("operationName")
	for _, op := range doc.Operations {
		if (name == "" || op.Name == name) && op.Operation != ast.Query {
			return true
		}
	}
	return false
}
