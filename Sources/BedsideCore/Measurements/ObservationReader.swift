/// Reads a vital-signs Observation from a server into a measurement, never assuming coding[0] is LOINC.
public enum ObservationReader {
    public static func record(from observation: JSONValue) -> MeasurementRecord? {
        guard observation["resourceType"]?.stringValue == "Observation", let serverID = observation["id"]?.stringValue,
            let effectiveText = observation["effectiveDateTime"]?.stringValue, let effective = FHIRDateTime(effectiveText)
        else { return nil }
        let codes = (observation["code"]?["coding"]?.arrayValue ?? [])
            .filter { $0["system"]?.stringValue == MeasurementKind.loincSystem }
            .compactMap { $0["code"]?.stringValue }
        guard let kind = codes.lazy.compactMap(MeasurementKind.init(loincCode:)).first else { return nil }
        var values: [ObservationBuilder.Value] = []
        func value(_ quantity: JSONValue?, _ part: MeasurementPart?) {
            guard let part, let literal = quantity?["value"]?.numberLiteral, !literal.isEmpty,
                quantity?["code"]?.stringValue == part.ucumCode
            else { return }
            values.append(ObservationBuilder.Value(part: part, literal: literal))
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
            serverVersion: observation["meta"]?["versionId"]?.stringValue.flatMap { Int($0) })
    }
}
