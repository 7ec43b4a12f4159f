import Crypto
import Foundation
import MailDesk
import Testing

@Suite struct BlobStoreTests {
    @Test func putAndReadRoundTripUnderTheSHA256Name() throws {
        let dir = try TempDir()
        let root = dir.path("blobs")
        let store = try BlobStore(root: root)
        let bytes = pseudoRandomBytes(200_000) + Array("tail".utf8)
        let (sha, size) = try store.put(bytes)
        #expect(sha == sha256Hex(bytes))
        #expect(size == bytes.count)
        #expect(store.contains(sha))
        #expect(store.size(sha) == bytes.count)
        #expect(try store.read(sha) == bytes)
        // Laid out as blobs/ab/abcdef…
        let expectedPath = root.appendingPathComponent(String(sha.prefix(2))).appendingPathComponent(sha).path
        #expect(store.path(sha) == expectedPath)
        #expect(FileManager.default.contents(atPath: expectedPath).map(Array.init) == bytes)
        // Reading in pieces gives the same bytes, in pieces of at most 64 KiB.
        var pieces: [Int] = []
        var joined: [UInt8] = []
        try store.forEachChunk(sha) { pieces.append($0.count); joined.append(contentsOf: $0) }
        #expect(joined == bytes)
        #expect(pieces.count >= 4 && pieces.allSatisfy { $0 <= 1 << 16 })
        #expect(entries(root.appendingPathComponent("tmp")).isEmpty)
    }

    @Test func emptyBlobHasTheWellKnownHash() throws {
        let dir = try TempDir()
        let store = try BlobStore(root: dir.path("blobs"))
        let (sha, size) = try store.put([UInt8]())
        #expect(sha == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(size == 0)
        #expect(try store.read(sha).isEmpty)
    }

    @Test func sameContentIsStoredOnce() throws {
        let dir = try TempDir()
        let root = dir.path("blobs")
        let store = try BlobStore(root: root)
        let bytes = Array("the same attachment, twice".utf8)
        let first = try store.put(bytes)
        let second = try store.put(bytes)
        #expect(first.sha256 == second.sha256)
        #expect(first.size == second.size)
        // One file in one fan-out folder, nothing left in tmp/.
        #expect(entries(root) == [String(first.sha256.prefix(2)), "tmp"].sorted())
        #expect(entries(root.appendingPathComponent(String(first.sha256.prefix(2)))) == [first.sha256])
        #expect(entries(root.appendingPathComponent("tmp")).isEmpty)
        // Different content is a different blob.
        let other = try store.put(bytes + [0])
        #expect(other.sha256 != first.sha256)
        #expect(try store.read(first.sha256) == bytes)
        #expect(try store.read(other.sha256) == bytes + [0])
    }

    @Test func limitRefusesOversizeAndLeavesNothingBehind() throws {
        let dir = try TempDir()
        let root = dir.path("blobs")
        let store = try BlobStore(root: root)
        let bytes = pseudoRandomBytes(1000)
        do {
            _ = try store.put(bytes, limit: 999)
            Issue.record("1000 bytes over a limit of 999 must be refused")
        } catch BlobStore.BlobError.tooLarge(let limit) {
            #expect(limit == 999)
        }
        #expect(!store.contains(sha256Hex(bytes)))
        #expect(entries(root) == ["tmp"])
        #expect(entries(root.appendingPathComponent("tmp")).isEmpty)
        // Exactly at the limit is fine.
        let (sha, size) = try store.put(bytes, limit: 1000)
        #expect(sha == sha256Hex(bytes) && size == 1000)
        #expect(entries(root.appendingPathComponent("tmp")).isEmpty)
    }

    @Test func chunkedWriteRefusesOnceThePiecesPassTheLimit() throws {
        let dir = try TempDir()
        let root = dir.path("blobs")
        let store = try BlobStore(root: root)
        var produced = 0
        #expect(throws: BlobStore.BlobError.self) {
            _ = try store.write(limit: 100_000) { sink in
                let piece = pseudoRandomBytes(30_000)
                for _ in 0..<10 {
                    try piece.withUnsafeBytes { try sink($0) }
                    produced += piece.count
                }
            }
        }
        // It stopped at the piece that went over, not after the whole producer.
        #expect(produced == 90_000)
        #expect(entries(root) == ["tmp"])
        #expect(entries(root.appendingPathComponent("tmp")).isEmpty)
    }

    @Test(arguments: ["../x", "../../etc/passwd", "", "abc",
                      String(repeating: "a", count: 63), String(repeating: "a", count: 65),
                      String(repeating: "A", count: 64), String(repeating: "g", count: 64),
                      "../" + String(repeating: "a", count: 61), "/" + String(repeating: "a", count: 63),
                      String(repeating: "a", count: 62) + "/.", String(repeating: "а", count: 64) /* Cyrillic а */])
    func pathRefusesNonHexNames(_ name: String) throws {
        let dir = try TempDir()
        let store = try BlobStore(root: dir.path("blobs"))
        #expect(!BlobStore.isName(name))
        #expect(store.path(name) == nil)
        #expect(!store.contains(name))
        #expect(store.size(name) == nil)
        #expect(throws: BlobStore.BlobError.self) { _ = try store.read(name) }
    }

    @Test func pathAcceptsOnlyLowercaseHexAndStaysUnderTheRoot() throws {
        let dir = try TempDir()
        let root = dir.path("blobs")
        let store = try BlobStore(root: root)
        let name = "0123456789abcdef" + String(repeating: "0", count: 48)
        #expect(BlobStore.isName(name))
        let p = try #require(store.path(name))
        #expect(p == root.path + "/01/" + name)
        #expect(!store.contains(name))
        #expect(throws: BlobStore.BlobError.self) { _ = try store.read(name) }
    }

    @Test func chunkedWriteOfAMultiMegabyteProducer() throws {
        let dir = try TempDir()
        let root = dir.path("blobs")
        let store = try BlobStore(root: root)
        // 5 MiB + 123 bytes in pieces of 64 KiB, hashed independently as they are produced.
        let piece = pseudoRandomBytes(1 << 16, seed: 7)
        let pieces = 80
        var hasher = SHA256()
        var total = 0
        let (sha, size) = try store.write { sink in
            for i in 0..<pieces {
                var p = piece
                p[0] = UInt8(i)  // every piece differs
                hasher.update(data: Data(p))
                total += p.count
                try p.withUnsafeBytes { try sink($0) }
            }
            let tail = Array(repeating: UInt8(0xAB), count: 123)
            hasher.update(data: Data(tail))
            total += tail.count
            try tail.withUnsafeBytes { try sink($0) }
        }
        #expect(total == 5 * (1 << 20) + 123)
        #expect(size == total)
        #expect(sha == hexString(hasher.finalize()))
        #expect(store.size(sha) == total)
        // Read back in pieces and hash again.
        var check = SHA256()
        var count = 0
        try store.forEachChunk(sha) { check.update(bufferPointer: $0); count += $0.count }
        #expect(count == total)
        #expect(hexString(check.finalize()) == sha)
        #expect(entries(root.appendingPathComponent("tmp")).isEmpty)
    }

    @Test func nonDurableWritesAreReadableAndSyncCompletes() async throws {
        let dir = try TempDir()
        let store = try BlobStore(root: dir.path("blobs"))
        let bytes = pseudoRandomBytes(300_000, seed: 11)
        let (sha, size) = try store.put(bytes, durable: false)
        #expect(sha == sha256Hex(bytes) && size == bytes.count)
        #expect(try store.read(sha) == bytes)
        // Many callers at once share the syncs; every one of them returns.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<8 {
                group.addTask {
                    _ = try store.put(pseudoRandomBytes(10_000, seed: UInt64(100 + i)), durable: false)
                    try await store.sync()
                }
            }
            try await group.waitForAll()
        }
        try await store.sync()
        for i in 0..<8 { #expect(store.contains(sha256Hex(pseudoRandomBytes(10_000, seed: UInt64(100 + i))))) }
        #expect(entries(dir.path("blobs").appendingPathComponent("tmp")).isEmpty)
    }

    @Test func aThrowingProducerLeavesNothing() throws {
        struct Stop: Error {}
        let dir = try TempDir()
        let root = dir.path("blobs")
        let store = try BlobStore(root: root)
        #expect(throws: Stop.self) {
            _ = try store.write { sink in
                try pseudoRandomBytes(10_000).withUnsafeBytes { try sink($0) }
                throw Stop()
            }
        }
        #expect(entries(root) == ["tmp"])
        #expect(entries(root.appendingPathComponent("tmp")).isEmpty)
    }

    @Test func writerAbortLeavesNothing() throws {
        let dir = try TempDir()
        let root = dir.path("blobs")
        let store = try BlobStore(root: root)
        let w = try store.writer()
        let bytes = pseudoRandomBytes(100_000)
        try w.append(bytes)
        #expect(w.size == bytes.count)
        // The partial blob exists only in tmp/ while it is written.
        #expect(entries(root.appendingPathComponent("tmp")).count == 1)
        w.abort()
        #expect(entries(root.appendingPathComponent("tmp")).isEmpty)
        #expect(entries(root) == ["tmp"])
        #expect(!store.contains(sha256Hex(bytes)))
        // A closed writer takes nothing more and cannot finish.
        #expect(throws: BlobStore.BlobError.self) { try w.append([1, 2, 3]) }
        #expect(throws: BlobStore.BlobError.self) { _ = try w.finish() }
        w.abort()  // twice is harmless
        #expect(entries(root.appendingPathComponent("tmp")).isEmpty)
    }

    @Test func writerFinishStoresAndAnAbandonedWriterIsCleanedUp() throws {
        let dir = try TempDir()
        let root = dir.path("blobs")
        let store = try BlobStore(root: root)
        let w = try store.writer(limit: 10)
        try w.append(Array("hello".utf8))
        try w.append(Array(" you".utf8)[...])
        let (sha, size) = try w.finish()
        #expect(sha == sha256Hex(Array("hello you".utf8)) && size == 9)
        #expect(try store.read(sha) == Array("hello you".utf8))
        #expect(throws: BlobStore.BlobError.self) { _ = try w.finish() }
        do {
            let abandoned = try store.writer()
            try abandoned.append([1, 2, 3])
            #expect(entries(root.appendingPathComponent("tmp")).count == 1)
        }
        // Dropped without finish: its deinit removes the temporary file.
        #expect(entries(root.appendingPathComponent("tmp")).isEmpty)
    }

    /// After `append` has refused a piece for the limit, the writer must not finish into a blob that
    /// holds only the pieces before it (and claims the refused piece in its size).
    @Test func writerOverTheLimitCannotFinishIntoATruncatedBlob() throws {
        let dir = try TempDir()
        let root = dir.path("blobs")
        let store = try BlobStore(root: root)
        let w = try store.writer(limit: 10)
        try w.append(Array("12345678".utf8))
        #expect(throws: BlobStore.BlobError.self) { try w.append(Array("9abc".utf8)) }
        let finished = try? w.finish()
        #expect(finished == nil, "finished as \(String(describing: finished))")
        #expect(!store.contains(sha256Hex(Array("12345678".utf8))))

        w.abort()
    }
}
