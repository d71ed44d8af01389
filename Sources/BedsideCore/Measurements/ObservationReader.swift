/// Reads a vital-signs Observation from a server into a measurement, never assuming coding[0] is LOINC.
public enum ObservationReader {
    /// When an Observation was made, as FHIR allows it to say: `effectiveDateTime` of any precision,
    /// `effectiveInstant`, or an `effectivePeriod` (its start, else its end); nil without one Bedside
    /// can place in time (none, or a Timing).
    public static func effective(of observation: JSONValue) -> FHIRDateTime? {
        if let text = observation["effectiveDateTime"]?.stringValue ?? observation["effectiveInstant"]?.stringValue { return FHIRDateTime(text) }
        let period = observation["effectivePeriod"]
        return (period?["start"]?.stringValue ?? period?["end"]?.stringValue).flatMap(FHIRDateTime.init)
    }

    /// The measurement Bedside understands in an Observation: one of its kinds, with the values given in
    /// its units exactly, or in another unit of the vital-signs profile converted (pounds to kilograms,
    /// Fahrenheit to Celsius); a value with a comparator, in any other unit, or absent is left out; nil when
    /// nothing is understood. The Observation itself is kept whole elsewhere.
    public static func record(from observation: JSONValue) -> MeasurementRecord? {
        guard observation["resourceType"]?.stringValue == "Observation", let serverID = observation["id"]?.stringValue,
            let effective = effective(of: observation)
        else { return nil }
        let codes = (observation["code"]?["coding"]?.arrayValue ?? [])
            .filter { $0["system"]?.stringValue == MeasurementKind.loincSystem }
            .compactMap { $0["code"]?.stringValue }
        guard let kind = codes.lazy.compactMap(MeasurementKind.init(loincCode:)).first else { return nil }
        var values: [ObservationBuilder.Value] = []
        func value(_ quantity: JSONValue?, _ part: MeasurementPart?) {
            guard let part, let literal = quantity?["value"]?.numberLiteral, !literal.isEmpty, let unit = quantity?["code"]?.stringValue,
                quantity?["comparator"] == nil, quantity?["system"].map({ $0.stringValue == MeasurementKind.ucumSystem }) ?? true
            else { return }
            // Another unit of the vital-signs profile (pounds, grams, Fahrenheit) is the same quantity in Bedside's.
            guard let own = unit == part.ucumCode ? literal : part.convertedLiteral(literal, from: unit) else { return }
            values.append(ObservationBuilder.Value(part: part, literal: own))
        }
        if kind == .bloodPressure {
            for component in observation["component"]?.arrayValue ?? [] {
                let code = (component["code"]?["coding"]?.arrayValue ?? []).compactMap { $0["code"]?.stringValue }
                    .first { MeasurementPart.bloodPressureComponent(loincCode: $0) != nil }
                value(component["valueQuantity"], code.flatMap(MeasurementPart.bloodPressureComponent(loincCode:)))
            }
        } else {
            value(observation["valueQuantity"], codes.lazy.compactMap(MeasurementPart.topLevel(loincCode:)).first)
        }
        guard !values.isEmpty else { return nil }
        // Our own uploads carry their local id as urn:uuid; anything else is known by its server id.
        let localID = (observation["identifier"]?.arrayValue ?? [])
            .compactMap { $0["value"]?.stringValue }
            .first { $0.hasPrefix("urn:uuid:") }
            .map { String($0.dropFirst("urn:uuid:".count)) }
        let status = observation["status"]?.stringValue
        return MeasurementRecord(
            id: localID ?? "server-\(serverID)", kind: kind, values: values, effectiveAt: effective.lowerBound,
            utcOffsetSeconds: effective.utcOffsetSeconds ?? 0, note: observation["note"]?.arrayValue?.first?["text"]?.stringValue,
            syncState: status == "entered-in-error" ? .withdrawn : .synced, serverID: serverID,
            serverVersion: observation["meta"]?["versionId"]?.stringValue.flatMap { Int($0) }, timePrecision: effective.precision)
    }
}
