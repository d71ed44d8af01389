import BedsideCore
import Foundation

/// A rest-hook notification: an R4 `history` Bundle with one entry per changed resource that matched,
/// each naming its id and version (`meta.versionId`, `response.etag`) so a receiver can drop a copy it
/// already has (deliveries are at-least-once). Which Subscription sent it, and its number, are in
/// `meta.extension` (Bundle, a Resource, has no extensions of its own).
enum NotificationBundle {
    static func make(
        subscriptionID: String, event: Int64, resources: [StoredResource], fullResource: Bool, baseURL: String, now: Int64
    ) -> JSONValue {
        let time = JSONValue.string(FHIRDateTime.format(epochMilliseconds: now))
        let entries: [JSONValue] = resources.map { stored in
            let created = stored.versionID == 1
            var entry: JSONObject = ["fullUrl": .string("\(baseURL)/\(stored.type)/\(stored.id)")]
            if fullResource, let resource = JSONParser.parseOrNil(stored.json) { entry["resource"] = resource }
            entry["request"] = [
                "method": created ? "POST" : "PUT", "url": .string(created ? stored.type : "\(stored.type)/\(stored.id)"),
            ]
            entry["response"] = [
                "status": created ? "201 Created" : "200 OK", "location": .string("\(stored.type)/\(stored.id)/_history/\(stored.versionID)"),
                "etag": .string(ETag.make(version: stored.versionID)),
                "lastModified": .string(FHIRDateTime.format(epochMilliseconds: stored.lastUpdated)),
            ]
            return .object(entry)
        }
        return [
            "resourceType": "Bundle",
            "id": .string(UUID().uuidString.lowercased()),
            "meta": [
                "lastUpdated": time,
                "extension": [
                    ["url": .string(BedsideExtension.notificationSubscription.url), "valueReference": ["reference": .string("Subscription/\(subscriptionID)")]],
                    ["url": .string(BedsideExtension.notificationEvent.url), "valueInteger": .number(Int(event))],
                ],
            ],
            "type": "history",
            "timestamp": time,
            "entry": .array(entries),
        ]
    }
}
