/**
 * parseHostsFile: containerd's hosts.toml format (server, [host."<url>"], capabilities, ca,
 * client, skip_verify, override_path, header), and hostile files: huge, deep, wrong types,
 * relative paths leaving the directory, header injection. Every error names the file and key.
 */
import { describe, expect, it } from 'vitest';
import { HostsFileError, MAX_HOSTS_FILE_BYTES, MAX_HOSTS_PER_FILE, parseHostsFile } from '../../../../../backends/stargz-lazy/registry/hosts-file.js';

const FILE = '/certs.d/reg.example/hosts.toml';
const DIR = '/certs.d/reg.example';
const parse = (text: string) => parseHostsFile(text, FILE, DIR);
const fails = (text: string, message: RegExp) => {
  expect(() => parse(text)).toThrow(HostsFileError);
  expect(() => parse(text)).toThrow(message);
};

describe('parseHostsFile', () => {
  it('reads server and mirrors in file order, with their settings', () => {
    const f = parse(`
server = "https://upstream.example:8443"
ca = "up-ca.pem"

[host."http://10.0.0.5:5000"]
  capabilities = ["pull", "resolve"]

[host."mirror.example/base"]
  capabilities = ["Pull"]
  ca = ["/abs/ca.pem", "sub/ca2.pem"]
  client = [["c.cert", "c.key"], "both.pem"]
  skip_verify = true
  [host."mirror.example/base".header]
    x-token = "s3cret"
    x-multi = ["a", "b"]

[host."https://odd.example/api/registry"]
  override_path = true
`);
    expect(f.mirrors.map((m) => [m.scheme, m.host, m.path])).toEqual([
      ['http', '10.0.0.5:5000', '/v2'],
      ['https', 'mirror.example', '/base/v2'],
      ['https', 'odd.example', '/api/registry'],
    ]);
    expect([...f.mirrors[0]!.capabilities]).toEqual(['pull', 'resolve']);
    expect([...f.mirrors[1]!.capabilities]).toEqual(['pull']);
    expect(f.mirrors[1]!.ca).toEqual(['/abs/ca.pem', `${DIR}/sub/ca2.pem`]);
    expect(f.mirrors[1]!.client).toEqual([{ cert: `${DIR}/c.cert`, key: `${DIR}/c.key` }, { cert: `${DIR}/both.pem` }]);
    expect(f.mirrors[1]!.skipVerify).toBe(true);
    expect(f.mirrors[1]!.headers).toEqual({ 'x-token': ['s3cret'], 'x-multi': ['a', 'b'] });
    expect([...f.mirrors[2]!.capabilities].sort()).toEqual(['pull', 'push', 'resolve']);
    expect(f.upstream).toMatchObject({ scheme: 'https', host: 'upstream.example:8443', path: '/v2', ca: [`${DIR}/up-ca.pem`] });
  });

  it('an upstream without server has no host (the requested host is used); an empty file is allowed', () => {
    expect(parse('').upstream.host).toBeUndefined();
    expect(parse('capabilities = ["resolve"]').upstream.capabilities.has('pull')).toBe(false);
  });

  it('keeps /v2 once when the URL ends with it; dot segments are resolved', () => {
    expect(parse('[host."https://m.example/v2"]').mirrors[0]!.path).toBe('/v2');
    expect(parse('[host."https://m.example/a/%2e%2e/../b/"]').mirrors[0]!.path).toBe('/b/v2');
  });

  it.each([
    ['not TOML', 'server = ', /hosts\.toml: not valid TOML \(line 1/],
    ['server of the wrong type', 'server = 5', /hosts\.toml: server: expected a string/],
    ['host not a table', 'host = "x"', /hosts\.toml: host: expected a table/],
    ['an unknown key', '[host."https://m"]\n  mirrors = 1', /host\."https:\/\/m"\.mirrors: unknown key/],
    ['an unknown capability', '[host."https://m"]\n  capabilities = ["pull", "fly"]', /host\."https:\/\/m"\.capabilities\[1\]: unknown capability "fly"/],
    ['capabilities of the wrong type', '[host."https://m"]\n  capabilities = 3', /capabilities: expected a string or a list of strings/],
    ['ca of the wrong type', 'ca = [1]', /hosts\.toml: ca\[0\]: expected a string/],
    ['ca leaving the directory', 'ca = "../../etc/shadow"', /ca\[0\]: "..\/..\/etc\/shadow" leaves the directory of the file/],
    ['ca that is the directory itself', 'ca = "."', /ca\[0\]: "." leaves the directory/],
    ['a client pair of three', 'client = [["a", "b", "c"]]', /client\[0\]: expected a file or a \[cert, key\] pair/],
    ['a client key leaving the directory', 'client = [["a.cert", "../a.key"]]', /client\[0\]\[1\]: "..\/a.key" leaves/],
    ['skip_verify not a boolean', 'skip_verify = "yes"', /skip_verify: expected true or false/],
    ['override_path not a boolean', '[host."https://m"]\n  override_path = 1', /override_path: expected true or false/],
    ['a URL with credentials', '[host."https://u:p@m.example"]', /credentials in the URL are not accepted/],
    ['a URL with a query', '[host."https://m.example/?a=b"]', /a query or fragment is not accepted/],
    ['a bad header name', '[header]\n  "bad name" = "v"', /header\."bad name": not a valid header name/],
    ['a header value with CR LF', '[header]\n  x-a = "v\\r\\nx-evil: 1"', /header\."x-a": a value holds a control character/],
    ['a header the client sets', '[header]\n  Host = "evil"', /header\."Host": this header is set by the client/],
    ['a header of the wrong type', '[header]\n  x-a = 5', /header\."x-a": expected a string or a list of strings/],
    ['__proto__ keys', '[host."https://m"]\n  __proto__ = 1', /not valid TOML/],
  ])('refuses %s, naming the file and key', (_what, text, message) => fails(text, message));

  it('refuses huge files, too many hosts, long lists and deep nesting', () => {
    fails(`# ${'x'.repeat(MAX_HOSTS_FILE_BYTES)}`, /larger than 65536 bytes/);
    const many = Array.from({ length: MAX_HOSTS_PER_FILE + 1 }, (_, i) => `[host."https://m${i}.example"]`).join('\n');
    fails(many, /host: more than 32 entries/);
    fails(`ca = [${Array.from({ length: 17 }, (_, i) => `"c${i}"`).join(', ')}]`, /ca: more than 16 entries/);
    fails(`x = ${'['.repeat(50)}${']'.repeat(50)}`, /not valid TOML/);
    fails(`server = "${'a'.repeat(5000)}"`, /server: URL longer than 4096/);
  });

  it('never puts a header value in a message', () => {
    try {
      parse('[header]\n  authorization = ["Bearer top-secret", 7]');
      expect.unreachable();
    } catch (err) {
      expect((err as Error).message).toMatch(/header\."authorization"\[1\]: expected a string/);
      expect((err as Error).message).not.toContain('top-secret');
    }
  });
});
