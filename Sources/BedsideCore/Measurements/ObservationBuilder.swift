/// Writes measurements as FHIR vital-signs Observations, the one shape client and server both use.
public enum ObservationBuilder {
    /// One quantity: which part it is and its value as written (so "72.50" keeps its precision).
    public struct Value: Sendable, Equatable {
        public var part: MeasurementPart
        public var literal: String

        public init(part: MeasurementPart, literal: String) {
            self.part = part
            self.literal = literal
        }

        public init(part: MeasurementPart, value: Double) {
            self.part = part
            self.literal = JSONValue.number(value).numberLiteral
        }
    }

    /// An Observation for `values` (one value, or systolic + diastolic [+ pulse] for blood pressure).
    /// `clientID` becomes the `urn:uuid` identifier that makes uploads idempotent.
    public static func observation(
        kind: MeasurementKind, values: [Value], effective: String, patientID: String, clientID: String?,
        note: String? = nil, status: String = "final"
    ) -> JSONValue {
        var object: JSONObject = ["resourceType": "Observation"]
        // The FHIR vital-signs profile it conforms to (glucose is a laboratory value, with none).
        if let profile = kind.vitalSignsProfile { object["meta"] = ["profile": [.string(profile)]] }
        if let clientID {
            object["identifier"] = [["system": "urn:ietf:rfc:3986", "value": .string("urn:uuid:\(clientID)")]]
        }
        object["status"] = .string(status)
        object["category"] = [
            [
                "coding": [
                    ["system": .string(ResourceValidator.categorySystem), "code": "vital-signs", "display": "Vital Signs"]
                ]
            ]
        ]
        var codings: [JSONValue] = [
            ["system": .string(MeasurementKind.loincSystem), "code": .string(kind.loincCodes[0]), "display": .string(kind.loincDisplay)]
        ]
        // Glucose in mg/dL has its own LOINC code; say so rather than mislabel the unit.
        if kind == .glucose, values.first?.part == .glucoseMass {
            codings = [["system": .string(MeasurementKind.loincSystem), "code": "2339-0", "display": "Glucose [Mass/volume] in Blood"]]
        }
        object["code"] = ["coding": .array(codings), "text": .string(kind.loincDisplay)]
        object["subject"] = ["reference": .string("Patient/\(patientID)")]
        object["effectiveDateTime"] = .string(effective)
        if kind == .bloodPressure {
            object["component"] = .array(values.map { value in
                [
                    "code": [
                        "coding": [["system": .string(MeasurementKind.loincSystem), "code": .string(value.part.loincCode), "display": .string(value.part.display)]]
                    ],
                    "valueQuantity": quantity(value),
                ]
            })
        } else if let value = values.first {
            object["valueQuantity"] = quantity(value)
        }
        if let note, !note.isEmpty { object["note"] = [["text": .string(note)]] }
        return .object(object)
    }

    static func quantity(_ value: Value) -> JSONValue {
        [
            "value": .number(value.literal),
            "unit": .string(value.part.ucumCode),
            "system": .string(MeasurementKind.ucumSystem),
            "code": .string(value.part.ucumCode),
        ]
    }
}

extension JSONValue {
    /// The literal text of a number value ("" for anything else).
    public var numberLiteral: String {
        if case .number(let literal) = self { return literal }
        return ""
    }
}
