// The journal: an append-only, hash-chained record of every transition the agent makes.
//
// Layout of a journal directory (`JournalDirectory`): `journal.jsonl` (being written), `journal.1.jsonl`,
// `journal.2.jsonl`, ... (rotated, 1 newest), `journal.lock` (the writer's flock), `journal.head` (last durable
// seq and hash, and the first retained seq), `journal.torn.N` (torn tails set aside at start).
//
// One record per line (`JournalRecord`): seq, time (UTC, µs), realtime_us, monotonic_ns, boot_id, host, cause,
// kind, data (the kind's typed payload), prev (the previous record's hash), hash (SHA-256 of the line without it).
// Devices are kernel names (`0000:03:01.0`); a group is its member devices, with the kernel's number beside them
// as an observation only.
//
// How the agent uses it:
//
//     let journal = try JournalWriter(directory: "/var/lib/vfio-warden/journal",
//                                     options: { var o = JournalWriter.Options(); o.mirror = JournalMirror(); return o }())
//     if let torn = journal.recovery { log it: torn.file, torn.line, torn.setAsideAs }
//     try await journal.append(.agentStarted(AgentStarted(version: v, pid: getpid())), cause: .agent())
//     ...
//     // Write-ahead: the plan is durable before the executor's first sysfs write.
//     try await journal.append(.actionPlanned(plan), cause: .udev(seqnum: event.seqnum, action: "bind"))
//     for step in plan.steps { append(.stepStarted(...)); write sysfs; append(.stepFinished(...)) }
//
// `append` returns once its record is fsynced; appends from many tasks at once share one write+fsync.
// `JournalReader` streams records, `JournalFollower` follows new ones, `JournalVerifier` checks the chain,
// `JournalFilter`/`JournalFilterStream` select, `StoryWriter` tells the story, `JournalStats` sums up.
