import Testing
@testable import DeskEngine
@Test func placeholder() {}
