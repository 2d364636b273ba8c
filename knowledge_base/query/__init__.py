"""The filter language of `KnowledgeBase.query`: a tokenizer, a recursive-descent parser and a SQL compiler.

Syntax: conditions joined by `and` / `or` / `not` and parentheses; comparisons `= != < <= > >=`,
`in (v1, v2, ...)`, `like 'pattern%'` (case-insensitive); then `order by <field> [asc|desc], ...` and `limit N`.
Values are 'quoted text' (a doubled quote escapes it), numbers, `true` / `false`; odd names go in `backquotes`.

Fields: id, task (its name), task.content_hash, task.<meta-feature>, model (or model_name), kind, state,
fingerprint, params (parameter count), flops, latency_ms, device, wall_time_s, created_at (ISO dates),
metrics.<name> (a bare name that is no other field is a metric: test_accuracy = metrics.test_accuracy),
arch.<label> (the architecture's parameters, e.g. arch.conv1.out_channels), settings.<key>, lineage.<key>.

Example: task = 'digits' and test_accuracy >= 0.97 and arch.conv1.out_channels >= 32 order by params limit 5
"""
