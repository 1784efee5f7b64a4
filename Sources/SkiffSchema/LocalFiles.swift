#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Darwin)
@preconcurrency import Darwin
#endif

/// Minimal file access with the C library, so the schema module needs no Foundation.
enum LocalFiles {
    static func read(_ path: String) -> [UInt8]? {
        guard let f = fopen(path, "rb") else { return nil }
        defer { fclose(f) }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&buf, 1, buf.count, f)
            if n > 0 { out.append(contentsOf: buf[0..<n]) }
            if n < buf.count { break }
        }
        return ferror(f) == 0 ? out : nil
    }

    /// Relative paths of all `.json` files below `directory`, sorted.
    static func listJSONFiles(in directory: String) -> [String] {
        var result: [String] = []
        func walk(_ rel: String) {
            let full = rel.isEmpty ? directory : directory + "/" + rel
            guard let dir = opendir(full) else { return }
            defer { closedir(dir) }
            while let entry = readdir(dir) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
                }
                if name == "." || name == ".." { continue }
                let childRel = rel.isEmpty ? name : rel + "/" + name
                var st = stat()
                guard stat(directory + "/" + childRel, &st) == 0 else { continue }
                if (st.st_mode & S_IFMT) == S_IFDIR {
                    walk(childRel)
                } else if name.hasSuffix(".json") {
                    result.append(childRel)
                }
            }
        }
        walk("")
        return result.sorted()
    }
}
