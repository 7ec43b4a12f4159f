import DeskEngine
@testable import DeskServer
import Foundation
import Testing

/// The request fast path's key scan must agree with `JSONSerialization` whenever it answers.
@Suite("Request bodies: the top-level key scan")
struct TopLevelKeysTests {
    @Test("plain objects: their keys; anything else: no answer (the careful path decides)")
    func examples() {
        #expect(topLevelKeys(Data(#"{}"#.utf8)) == [])
        #expect(topLevelKeys(Data(#" { "a" : 1 , "b":"x}" ,"c":{"d":[1,{"e":"]"}]},"f":null} "#.utf8)) == ["a", "b", "c", "f"])
        #expect(topLevelKeys(Data(#"{"text":"Привет, \"мир\" }"}"#.utf8)) == ["text"])
        for broken in [#"{"a":]}"#, #"{"a":1"#, #"{"a"}"#, #"["a"]"#, #"{"a\"b":1}"#, #"{"a":1,}"#, #"{"a":1} x"#, #""#, #"{"a":"#, #"{"a":"x"#] {
            #expect(topLevelKeys(Data(broken.utf8)) == nil, "\(broken)")
        }
    }

    @Test("random bodies: never stuck, and where it answers it names exactly the keys JSONSerialization finds")
    func agreesWithJSONSerialization() throws {
        var r = SplitMix64(seed: 77)
        let pieces = ["{", "}", "[", "]", ",", ":", " ", "\"", "\\", "a", "b", "1", "true", "null", "\"k\"", "\"x\":", "{\"y\":[", "\"\\\"\"", "é"]
        var answered = 0
        for _ in 0..<5_000 {
            let count = Int(r.next() % 14)
            let body = "{" + (0..<count).map { _ in pieces[Int(r.next() % UInt64(pieces.count))] }.joined()
            let data = Data(body.utf8)
            guard let keys = topLevelKeys(data) else { continue }
            answered += 1
            if let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] {
                #expect(Set(keys) == Set(object.keys), "\(body)")
            }
        }
        // Valid objects, made to be: the scan answers and agrees.
        for _ in 0..<1_000 {
            var object: [String: Any] = [:]
            for k in 0..<Int(r.next() % 5) {
                let key = ["a", "b c", "ключ", "x,y", "{", "}"][Int(r.next() % 6)] + String(k)
                object[key] = [1, "s\"}", ["n": [1, 2]], NSNull(), true][Int(r.next() % 5)]
            }
            let data = try JSONSerialization.data(withJSONObject: object)
            let keys = try #require(topLevelKeys(data), "\(String(decoding: data, as: UTF8.self))")
            #expect(Set(keys) == Set(object.keys))
            answered += 1
        }
        #expect(answered > 1_000)
    }
}
