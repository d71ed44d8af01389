import BedsideCore

/// The sealed part of a measurement row: everything but its id, time and sync state.
enum MeasurementPayload {
    static func encode(_ measurement: MeasurementRecord) -> [UInt8] {
        var object: JSONObject = [
            "kind": .string(measurement.kind.rawValue),
            "values": .array(measurement.values.map { value in
                ["code": .string(value.part.loincCode), "unit": .string(value.part.ucumCode), "value": .string(value.literal)]
            }),
            "offset": .number(measurement.utcOffsetSeconds),
        ]
        if let note = measurement.note { object["note"] = .string(note) }
        // Only a reading from another system can be less exact than a time of day.
        switch measurement.timePrecision {
        case .time: break
        case .day: object["precision"] = "day"
        case .month: object["precision"] = "month"
        case .year: object["precision"] = "year"
        }
        return JSONValue.object(object).serialized()
    }

    struct Decoded {
        var kind: MeasurementKind
        var values: [ObservationBuilder.Value]
        var utcOffsetSeconds: Int
        var note: String?
        var timePrecision: FHIRDateTime.Precision
    }

    static func decode(_ bytes: [UInt8]) -> Decoded? {
        guard let json = try? JSONParser.parse(bytes), let kind = json["kind"]?.stringValue.flatMap(MeasurementKind.init(rawValue:))
        else { return nil }
        let values = (json["values"]?.arrayValue ?? []).compactMap { item -> ObservationBuilder.Value? in
            guard let code = item["code"]?.stringValue, let literal = item["value"]?.stringValue else { return nil }
            let part = kind == .bloodPressure ? MeasurementPart.bloodPressureComponent(loincCode: code) : MeasurementPart.topLevel(loincCode: code)
            return part.map { ObservationBuilder.Value(part: $0, literal: literal) }
        }
        let precision: FHIRDateTime.Precision = switch json["precision"]?.stringValue {
        case "day": .day
        case "month": .month
        case "year": .year
        default: .time
        }
        return Decoded(
            kind: kind, values: values, utcOffsetSeconds: json["offset"]?.intValue ?? 0, note: json["note"]?.stringValue, timePrecision: precision)
    }
}
