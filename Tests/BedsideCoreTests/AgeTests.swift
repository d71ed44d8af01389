import BedsideCore
import Foundation
import Testing

@Suite("Age")
struct AgeTests {
    /// Noon UTC on a civil date.
    func noon(_ text: String) throws -> Int64 { try #require(FHIRDateTime(text + "T12:00:00Z")).lowerBound }

    @Test("completed years: one more on the birthday, not the day before; leap-day birthdays count from 1 March in other years")
    func birthdays() throws {
        #expect(Age.years(birthDate: "1946-03-14", at: try noon("2026-03-13"), zone: .fixed(0)) == 79)
        #expect(Age.years(birthDate: "1946-03-14", at: try noon("2026-03-14"), zone: .fixed(0)) == 80)
        #expect(Age.years(birthDate: "2000-02-29", at: try noon("2025-02-28"), zone: .fixed(0)) == 24)
        #expect(Age.years(birthDate: "2000-02-29", at: try noon("2025-03-01"), zone: .fixed(0)) == 25)
        #expect(Age.years(birthDate: "2026-03-14", at: try noon("2026-03-14"), zone: .fixed(0)) == 0)
    }

    @Test("the birthday begins at the local midnight: 23:30 UTC the day before is the day itself in Amsterdam")
    func localDay() throws {
        let amsterdam = try #require(LocalZone(identifier: "Europe/Amsterdam"))
        let lateEvening = try #require(FHIRDateTime("2026-03-13T23:30:00Z")).lowerBound
        #expect(Age.years(birthDate: "1946-03-14", at: lateEvening, zone: .fixed(0)) == 79)
        #expect(Age.years(birthDate: "1946-03-14", at: lateEvening, zone: amsterdam) == 80)
    }

    @Test("no age from a year or month alone, a birth in the future, a non-date, or a time beyond any calendar")
    func unknown() throws {
        let now = try noon("2026-12-05")
        for birthDate in ["1946", "1946-03", "2027-01-01", "", "yesterday", "1946-13-40", "1946-03-14T10:00:00Z"] {
            #expect(Age.years(birthDate: birthDate, at: now, zone: .fixed(0)) == nil, "\(birthDate)")
        }
        #expect(Age.years(birthDate: "1946-03-14", at: .max, zone: .fixed(3600)) == nil)
        #expect(Age.years(birthDate: "1946-03-14", at: .min, zone: .fixed(-3600)) == nil)
    }
}
