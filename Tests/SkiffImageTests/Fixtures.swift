import Foundation

/// Locates the committed fixtures (written by the tools/ reference scripts).
enum Fixtures {
    static let root: URL = {
        guard let url = Bundle.module.url(forResource: "Fixtures", withExtension: nil) else {
            fatalError("Fixtures folder missing from the test bundle")
        }
        return url
    }()

    static func url(_ folder: String, _ name: String) -> URL {
        root.appendingPathComponent(folder).appendingPathComponent(name)
    }

    static func data(_ folder: String, _ name: String) throws -> Data {
        try Data(contentsOf: url(folder, name))
    }

    static func json<T: Decodable>(_ type: T.Type, _ folder: String, _ name: String) throws -> T {
        try JSONDecoder().decode(T.self, from: data(folder, name))
    }
}
