/// A person's age in whole years, as a nurse says it on the phone.
public enum Age {
    /// Completed years on the local day of `now` for a FHIR `birthDate` of `YYYY-MM-DD`; nil for a
    /// date that is only a year or a month (an age from it could be a year off), one in the future, or
    /// none at all.
    public static func years(birthDate: String, at now: Int64, zone: LocalZone) -> Int? {
        guard let birth = FHIRDateTime(birthDate), birth.precision == .day else { return nil }
        let born = CivilCalendar.date(fromDays: Int(CivilCalendar.floorDivide(birth.lowerBound, 86_400_000)))
        // A time from anywhere: one that overflows with its offset has no day.
        let (local, overflow) = now.addingReportingOverflow(Int64(zone.offset(at: now)) * 1000)
        guard !overflow else { return nil }
        let today = CivilCalendar.date(fromDays: Int(CivilCalendar.floorDivide(local, 86_400_000)))
        var years = today.year - born.year
        if (today.month, today.day) < (born.month, born.day) { years -= 1 }
        return years >= 0 ? years : nil
    }
}
