package migrate

import (
	"context"
	"iter"
	"slices"
)

type doneMsg struct {
	regions []string
	res     Result
}

// dispatch streams the manifest's keys and runs them with bounded
// concurrency overall and per Region, looking ahead in the manifest for a
// key whose Regions have room.
func (r *runner) dispatch(ctx context.Context, sum *Summary) error {
	perRegion := r.m.RegionConcurrency
	if perRegion <= 0 {
		// Enough keys in flight to keep GetParametersForImport busy when
		// each key spends a couple of seconds in flight (network latency
		// times a dozen calls): 16 at AWS's default quota, more when it
		// was raised.
		perRegion = min(maxAutoConcurrency, max(DefaultRegionConcurrency, int(2*r.lim.quotas["GetParametersForImport"])))
	}
	conc := r.m.Concurrency
	if conc <= 0 {
		conc = min(maxAutoConcurrency, max(DefaultConcurrency, 2*perRegion))
	}
	// How far ahead in the manifest to look for a key whose Regions have
	// room: bounded, so that memory does not grow with the manifest.
	window := min(1024, max(256, 4*conc))
	next, stop := iter.Pull2(r.m.Manifest.Keys())
	defer stop()
	type pending struct {
		k       Key
		regions []string
	}
	var queue []pending
	load := map[string]int{}
	inflight := 0
	done := make(chan doneMsg)
	exhausted := false
	var iterErr error
	finish := func(res Result) {
		switch res.Outcome {
		case OutcomeImported:
			sum.Imported++
		case OutcomeAlreadyDone:
			sum.AlreadyDone++
		case OutcomePlanned:
			sum.Planned++
		case OutcomeRenewed:
			sum.Renewed++
		case OutcomeNotDue:
			sum.NotDue++
		case OutcomeFailed:
			sum.Failed++
			sum.Failures = append(sum.Failures, Failure{Key: res.Key, Line: res.Line, Err: res.Err.Error()})
		}
		if r.m.OnResult != nil {
			r.m.OnResult(res)
		}
		r.progress(sum)
	}
	r.progress(sum)
	for {
		for !exhausted && len(queue) < window && ctx.Err() == nil {
			k, err, ok := next()
			if !ok {
				exhausted = true
				break
			}
			if err != nil {
				iterErr, exhausted = err, true
				break
			}
			if st := r.replay.keys[k.Name]; st != nil && st.finished && !r.m.Renew {
				finish(Result{Key: k.Name, Line: k.Line, Outcome: OutcomeAlreadyDone})
				continue
			}
			queue = append(queue, pending{k, append(k.Target.AllRegions(), cloudScopes(k)...)})
		}
		if ctx.Err() == nil {
			for i := 0; i < len(queue) && inflight < conc; {
				p := queue[i]
				fits := true
				for _, reg := range p.regions {
					if load[reg] >= perRegion {
						fits = false
					}
				}
				if !fits {
					i++
					continue
				}
				queue = slices.Delete(queue, i, i+1)
				inflight++
				for _, reg := range p.regions {
					load[reg]++
				}
				go func() {
					var res Result
					if r.m.Renew {
						res = r.renewKey(ctx, p.k)
					} else {
						res = r.migrateKey(ctx, p.k)
					}
					done <- doneMsg{p.regions, res}
				}()
			}
		}
		if inflight == 0 && (ctx.Err() != nil || (exhausted && len(queue) == 0)) {
			return iterErr
		}
		if inflight == 0 {
			continue
		}
		msg := <-done
		inflight--
		for _, reg := range msg.regions {
			load[reg]--
		}
		if msg.res.Outcome != "" {
			finish(msg.res)
		}
	}
}
