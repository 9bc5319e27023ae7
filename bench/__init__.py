"""The hub's benchmarks, one command from the project root: `python -m bench` (about 10 minutes
on 2 cores; bench/README.md tells what each measures and the latest figures).

Starts its own Kafka broker (hub.testing.LocalBroker: free ports, a temp data dir), then runs
the sections `--only` names (default all three):

- throughput (bench.throughput), with the replay of the province-year it implies;
- latency (bench.latency);
- memory and ticks (bench.memory), in this process, without Kafka.

Prints a table and writes bench/results/bench-<time>.json with the git commit (bench.report).
`python -m bench.bench_connectors` measures the connectors alone.
"""
