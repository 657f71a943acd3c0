// Package metrics holds the service's Prometheus metrics. Labels are
// routes, outcomes, event slugs and job names: never personal data.
package metrics

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/pamelding/pamelding/mongodb"
)

// Metrics is one registry with the service's collectors.
type Metrics struct {
	reg           *prometheus.Registry
	Registrations *prometheus.CounterVec
	Webhooks      *prometheus.CounterVec
	JobRuns       *prometheus.CounterVec
	Purged        *prometheus.CounterVec
	Requests      *prometheus.HistogramVec
}

// SeatsFunc lists the seats left per event slug, read at scrape time.
type SeatsFunc func(ctx context.Context) (map[string]int, error)

// JobsFunc lists the background jobs' status, read at scrape time.
type JobsFunc func(ctx context.Context) ([]mongodb.JobStatus, error)

// New makes the registry: version names the build (pamelding_build_info),
// seats feeds the seats-left gauge, jobs the jobs' last run, next run and
// lag.
func New(version string, seats SeatsFunc, jobs JobsFunc) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		Registrations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pamelding_registrations_total", Help: "Sign-ups by outcome.",
		}, []string{"outcome"}),
		Webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pamelding_webhooks_total", Help: "Stripe webhook deliveries by event type and outcome.",
		}, []string{"type", "outcome"}),
		JobRuns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pamelding_job_runs_total", Help: "Background job runs by job and outcome.",
		}, []string{"job", "outcome"}),
		Purged: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pamelding_retention_purged_total", Help: "Values and registrations removed by retention, by rule.",
		}, []string{"rule"}),
		Requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "pamelding_http_request_duration_seconds", Help: "HTTP request latency by method, route pattern and status class.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"method", "route", "status"}),
	}
	m.reg.MustRegister(m.Registrations, m.Webhooks, m.JobRuns, m.Purged, m.Requests,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&seatsCollector{seats: seats, desc: prometheus.NewDesc("pamelding_seats_left", "Seats left per event.", []string{"event"}, nil)},
		&jobsCollector{jobs: jobs,
			last: prometheus.NewDesc("pamelding_job_last_run_timestamp_seconds", "When a background job last ran (any instance).", []string{"job"}, nil),
			next: prometheus.NewDesc("pamelding_job_next_run_timestamp_seconds", "When a background job runs next.", []string{"job"}, nil),
			lag:  prometheus.NewDesc("pamelding_job_lag_seconds", "How long a background job is overdue (0 when it is not).", []string{"job"}, nil),
		})
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "pamelding_build_info", Help: "The running build; the value is always 1.",
		ConstLabels: prometheus.Labels{"version": version},
	})
	build.Set(1)
	m.reg.MustRegister(build)
	return m
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// JobRun records one run of a job.
func (m *Metrics) JobRun(job string, err error) {
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	m.JobRuns.WithLabelValues(job, outcome).Inc()
}

type seatsCollector struct {
	seats SeatsFunc
	desc  *prometheus.Desc
}

func (c *seatsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *seatsCollector) Collect(ch chan<- prometheus.Metric) {
	if c.seats == nil {
		return
	}
	// prometheus.Collector.Collect has no context; a scrape gets 2 s.
	ctx, cancel := context.WithTimeout(context.TODO(), 2*time.Second)
	defer cancel()
	left, err := c.seats(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		return
	}
	for slug, n := range left {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), slug)
	}
}

type jobsCollector struct {
	jobs            JobsFunc
	last, next, lag *prometheus.Desc
}

func (c *jobsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.last
	ch <- c.next
	ch <- c.lag
}

func (c *jobsCollector) Collect(ch chan<- prometheus.Metric) {
	if c.jobs == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.TODO(), 2*time.Second)
	defer cancel()
	sts, err := c.jobs(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.last, err)
		return
	}
	now := time.Now()
	for _, st := range sts {
		if st.LastRunAt != nil {
			ch <- prometheus.MustNewConstMetric(c.last, prometheus.GaugeValue, float64(st.LastRunAt.Unix()), st.Name)
		}
		if st.NextRunAt != nil {
			ch <- prometheus.MustNewConstMetric(c.next, prometheus.GaugeValue, float64(st.NextRunAt.Unix()), st.Name)
		}
		ch <- prometheus.MustNewConstMetric(c.lag, prometheus.GaugeValue, st.Lag(now).Seconds(), st.Name)
	}
}
