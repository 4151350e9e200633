"""Domain-agnostic machinery: events, domains, losses, training, statistics, reports, timing."""
