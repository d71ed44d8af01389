/// The HTTP `Date` header (IMF-fixdate, RFC 9110 §5.6.7: `Sun, 06 Nov 1994 08:49:37 GMT`), which tells
/// the client the server's time: the way to notice a computer whose clock is wrong.
public enum HTTPDate {
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// Milliseconds since the epoch, or nil for anything that is not an IMF-fixdate.
    ///
    /// The year has exactly four digits, as the format says, and is at least 1000: a server's year 99999 or
    /// 2^63 is not a clock to compare with, and would overflow the arithmetic below.
    public static func parse(_ text: String) -> Int64? {
        let parts = text.split(separator: " ")
        guard parts.count == 6, parts[5] == "GMT", parts[3].utf8.count == 4, parts[3].utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }),
            let day = Int(parts[1]), let year = Int(parts[3]), year >= 1000,
            let monthIndex = months.firstIndex(of: String(parts[2]))
        else { return nil }
        let clock = parts[4].split(separator: ":").compactMap { Int($0) }
        guard clock.count == 3, (1...31).contains(day), (0...23).contains(clock[0]), (0...59).contains(clock[1]),
            (0...60).contains(clock[2])
        else { return nil }
        let days = Int64(CivilCalendar.days(year: year, month: monthIndex + 1, day: day))
        return (days * 86_400 + Int64(clock[0] * 3600 + clock[1] * 60 + clock[2])) * 1000
    }
}
