import Foundation

/// Why a `--since`/`--until` value is not a time.
public struct TimeParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public var text: String
    public var problem: String
    public var description: String { "invalid time '\(text)': \(problem)" }
}

/// Times as `journalctl --since/--until` accepts them (systemd.time(7)):
/// `YYYY-MM-DD [HH:MM[:SS]]`, `HH:MM[:SS]` (today), `today`, `yesterday`, `tomorrow`, `now`,
/// `-1h`, `+5min`, `-1h 30min`, `2 hours ago`, `@1700000000[.5]`, and a trailing ` UTC` for UTC instead of local time.
public enum JournalTime {
    /// Microseconds since 1970 for `text`, reading dates in `timeZone` (local time by default) relative to `now`.
    public static func parse(_ text: String, now: Date = Date(), timeZone: TimeZone = .current) throws(TimeParseError) -> Int64 {
        var input = text.trimmingCharacters(in: .whitespaces)
        var zone = timeZone
        for suffix in [" UTC", " utc", "Z"] where input.hasSuffix(suffix) && input.count > suffix.count {
            input = String(input.dropLast(suffix.count)).trimmingCharacters(in: .whitespaces)
            zone = TimeZone(secondsFromGMT: 0)!
        }
        func fail(_ problem: String) -> TimeParseError { TimeParseError(text: text, problem: problem) }
        let nowMicros = Int64((now.timeIntervalSince1970 * 1e6).rounded())
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        let startOfToday = calendar.startOfDay(for: now)
        func micros(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1e6).rounded()) }

        switch input.lowercased() {
        case "": throw fail("empty")
        case "now": return nowMicros
        case "today": return micros(startOfToday)
        case "yesterday": return micros(calendar.date(byAdding: .day, value: -1, to: startOfToday)!)
        case "tomorrow": return micros(calendar.date(byAdding: .day, value: 1, to: startOfToday)!)
        default: break
        }
        if input.hasPrefix("@") {
            guard let seconds = Double(input.dropFirst()), seconds.isFinite else { throw fail("expected @ and Unix seconds, e.g. @1700000000") }
            return Int64((seconds * 1e6).rounded())
        }
        if input.hasPrefix("-") || input.hasPrefix("+") {
            let span = try relativeSpan(String(input.dropFirst()), original: text)
            return input.hasPrefix("-") ? nowMicros - span : nowMicros + span
        }
        if input.lowercased().hasSuffix(" ago") {
            return nowMicros - (try relativeSpan(String(input.dropLast(4)), original: text))
        }
        // Absolute: [YYYY-MM-DD][ |T][HH:MM[:SS[.ffffff]]]
        let parts = input.split(whereSeparator: { $0 == " " || $0 == "T" }).map(String.init)
        var dateText: String?
        var timeText: String?
        switch parts.count {
        case 1:
            if parts[0].contains("-") { dateText = parts[0] } else if parts[0].contains(":") { timeText = parts[0] } else {
                throw fail("expected YYYY-MM-DD [HH:MM[:SS]], HH:MM[:SS], today, yesterday, now, -1h, +5min or @UNIX")
            }
        case 2: dateText = parts[0]; timeText = parts[1]
        default: throw fail("expected YYYY-MM-DD [HH:MM[:SS]], today, yesterday, now, -1h, +5min or @UNIX")
        }
        var components = calendar.dateComponents([.year, .month, .day], from: now)
        if let dateText {
            let fields = dateText.split(separator: "-", omittingEmptySubsequences: false)
            guard fields.count == 3, fields[0].count == 4, let y = Int(fields[0]), let m = Int(fields[1]), let d = Int(fields[2]),
                  (1...12).contains(m), (1...31).contains(d)
            else { throw fail("date '\(dateText)' is not YYYY-MM-DD") }
            components.year = y; components.month = m; components.day = d
        }
        var fraction = 0.0
        components.hour = 0; components.minute = 0; components.second = 0
        if let timeText {
            let fields = timeText.split(separator: ":", omittingEmptySubsequences: false)
            guard (2...3).contains(fields.count), let h = Int(fields[0]), let mi = Int(fields[1]), (0...23).contains(h), (0...59).contains(mi)
            else { throw fail("time '\(timeText)' is not HH:MM[:SS]") }
            components.hour = h; components.minute = mi
            if fields.count == 3 {
                guard let s = Double(fields[2]), s >= 0, s < 61 else { throw fail("seconds '\(fields[2])' are not 00 to 59") }
                components.second = Int(s)
                fraction = s - Double(Int(s))
            }
        }
        guard let date = calendar.date(from: components),
              calendar.component(.day, from: date) == components.day else {
            throw fail("no such date")
        }
        return micros(date) + Int64((fraction * 1e6).rounded())
    }

    /// `1h 30min`, `5min`, `2 hours`, `90s`: microseconds.
    static func relativeSpan(_ text: String, original: String) throws(TimeParseError) -> Int64 {
        let units: [(names: [String], micros: Double)] = [
            (["us", "usec", "µs"], 1), (["ms", "msec"], 1e3),
            (["s", "sec", "second", "seconds"], 1e6), (["m", "min", "minute", "minutes"], 60e6),
            (["h", "hr", "hour", "hours"], 3600e6), (["d", "day", "days"], 86_400e6),
            (["w", "week", "weeks"], 604_800e6), (["M", "month", "months"], 2_629_800e6),
            (["y", "year", "years"], 31_557_600e6),
        ]
        var total = 0.0
        var rest = Substring(text.trimmingCharacters(in: .whitespaces))
        guard !rest.isEmpty else { throw TimeParseError(text: original, problem: "expected a span after the sign, e.g. -1h or +5min") }
        while !rest.isEmpty {
            let number = rest.prefix { $0.isNumber || $0 == "." }
            guard let value = Double(number) else {
                throw TimeParseError(text: original, problem: "expected a number at '\(rest)'")
            }
            rest = rest.dropFirst(number.count).drop { $0 == " " }
            let unit = rest.prefix { $0.isLetter || $0 == "µ" }
            rest = rest.dropFirst(unit.count).drop { $0 == " " }
            let name = String(unit)
            let factor: Double
            if name.isEmpty {
                factor = 1e6   // systemd: a bare number is seconds
            } else if let match = units.first(where: { $0.names.contains(name) }) ?? units.first(where: { $0.names.contains(name.lowercased()) }) {
                factor = match.micros
            } else {
                throw TimeParseError(text: original, problem: "unknown unit '\(name)' (use us, ms, s, min, h, d, w, M, y)")
            }
            total += value * factor
        }
        return Int64(total.rounded())
    }
}
