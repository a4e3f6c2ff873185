/*
 * A stock Java 17 JSSE client, as an enterprise integration platform runs it, for
 * tests/test_java_client.py: does a real Java client agree with snisweep's verdict?
 *
 * Run with the single-file source launcher (no build step):
 *
 *     java tests/java/SniClient.java --ca CA.pem < checks.tsv
 *     java tests/java/SniClient.java --ca CA.pem ADDRESS PORT HOST on|off [PATH|-]
 *
 * Each check on standard input is one tab-separated line:
 *
 *     ID  ADDRESS  PORT  HOST  on|off  PATH
 *
 * PATH "-" skips the HTTP request (plain TLS). For every check the client connects a plain
 * Socket to ADDRESS:PORT, layers an SSLSocket over it with createSocket(socket, HOST, PORT,
 * true), turns host name verification on (endpoint identification "HTTPS", as
 * HttpsURLConnection does), and for "off" sends no SNI (setServerNames(emptyList)); "on" keeps
 * what Java derives from HOST by its own rules (sun.security.ssl.Utilities.rawToSNIHostName).
 * Only the CA in the PEM file is trusted. After the handshake it sends
 * "GET PATH HTTP/1.1" with "Host: HOST:PORT" and reads the status line.
 *
 * Everything else is Java's default: no jdk.tls.* property is touched, no protocol enabled.
 *
 * Output, one tab-separated line per check, in input order:
 *
 *     ID  OUTCOME  PROTOCOL  SNI
 *
 * OUTCOME is "ok STATUS" (handshake, verification and an HTTP status line), "tls-ok" (handshake
 * done, no HTTP request asked for), "no-status WHAT" (handshake done, but no status line came
 * back: closed, timeout, not-http) or "fail ExceptionClass: message" (connect, handshake or
 * verification failed; the root cause is appended after " <- "). PROTOCOL is the negotiated
 * protocol or "-". SNI is the server names Java puts in its ClientHello, comma-separated, or "-"
 * for none. Exit status 0 when every check ran (whatever its outcome), 2 on bad usage.
 */

import java.io.ByteArrayOutputStream;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SNIServerName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.SSLSocketFactory;
import javax.net.ssl.TrustManagerFactory;

public final class SniClient {
    private static final int MAX_STATUS_LINE = 8192;

    private SniClient() {}

    record Check(String id, String address, int port, String host, boolean sni, String path) {}

    public static void main(String[] args) throws Exception {
        String ca = null;
        int timeoutMs = 3000;
        int threads = 8;
        List<String> rest = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--ca" -> ca = args[++i];
                case "--timeout-ms" -> timeoutMs = Integer.parseInt(args[++i]);
                case "--threads" -> threads = Integer.parseInt(args[++i]);
                default -> rest.add(args[i]);
            }
        }
        if (ca == null || !(rest.isEmpty() || rest.size() == 4 || rest.size() == 5)) {
            System.err.println("usage: SniClient --ca CA.pem [--timeout-ms N] [--threads N]"
                    + " [ADDRESS PORT HOST on|off [PATH|-]]  (else checks on stdin)");
            System.exit(2);
        }
        List<Check> checks = new ArrayList<>();
        if (!rest.isEmpty()) {
            checks.add(parse(String.join("\t", "1", rest.get(0), rest.get(1), rest.get(2),
                    rest.get(3), rest.size() == 5 ? rest.get(4) : "/")));
        } else {
            BufferedReader in = new BufferedReader(
                    new InputStreamReader(System.in, StandardCharsets.UTF_8));
            for (String line; (line = in.readLine()) != null; ) {
                if (!line.isBlank()) {
                    checks.add(parse(line));
                }
            }
        }
        SSLSocketFactory factory = context(ca).getSocketFactory();
        ExecutorService pool = Executors.newFixedThreadPool(Math.max(1, threads));
        List<Future<String>> results = new ArrayList<>();
        final int timeout = timeoutMs;
        for (Check check : checks) {
            results.add(pool.submit(() -> run(factory, check, timeout)));
        }
        for (int i = 0; i < checks.size(); i++) {
            String line;
            try {
                line = results.get(i).get();
            } catch (Exception e) {
                line = String.join("\t", checks.get(i).id(), "fail " + describe(e), "-", "?");
            }
            System.out.println(line);
            System.out.flush();
        }
        pool.shutdown();
        pool.awaitTermination(1, TimeUnit.SECONDS);
    }

    static Check parse(String line) {
        String[] f = line.split("\t", -1);
        if (f.length != 6 || !(f[4].equals("on") || f[4].equals("off"))) {
            throw new IllegalArgumentException("bad check line: " + line);
        }
        return new Check(f[0], f[1], Integer.parseInt(f[2]), f[3], f[4].equals("on"), f[5]);
    }

    /** An SSLContext that trusts only the certificates in the PEM file (no keytool). */
    static SSLContext context(String caPem) throws Exception {
        KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
        store.load(null, null);
        try (InputStream in = new FileInputStream(caPem)) {
            Collection<? extends Certificate> certs =
                    CertificateFactory.getInstance("X.509").generateCertificates(in);
            int n = 0;
            for (Certificate cert : certs) {
                store.setCertificateEntry("ca-" + n++, cert);
            }
            if (n == 0) {
                throw new IllegalArgumentException("no certificate in " + caPem);
            }
        }
        TrustManagerFactory tmf =
                TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(store);
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(null, tmf.getTrustManagers(), null);
        return context;
    }

    static String run(SSLSocketFactory factory, Check check, int timeoutMs) {
        String protocol = "-";
        String sent = "?";
        Socket plain = new Socket();
        try {
            plain.setSoTimeout(timeoutMs);
            plain.connect(new InetSocketAddress(InetAddress.getByName(check.address()),
                    check.port()), timeoutMs);
            SSLSocket tls = (SSLSocket) factory.createSocket(plain, check.host(), check.port(),
                    true);
            try (tls) {
                SSLParameters params = tls.getSSLParameters();
                params.setEndpointIdentificationAlgorithm("HTTPS");
                if (!check.sni()) {
                    params.setServerNames(Collections.emptyList());
                }
                tls.setSSLParameters(params);
                sent = names(tls.getSSLParameters().getServerNames());
                tls.startHandshake();
                protocol = tls.getSession().getProtocol();
                if (check.path().equals("-")) {
                    return line(check, "tls-ok", protocol, sent);
                }
                String hostHeader = check.host().contains(":")
                        ? "[" + check.host() + "]" : check.host();
                String request = "GET " + check.path() + " HTTP/1.1\r\nHost: " + hostHeader
                        + (check.port() == 443 ? "" : ":" + check.port())
                        + "\r\nConnection: close\r\n\r\n";
                OutputStream out = tls.getOutputStream();
                out.write(request.getBytes(StandardCharsets.US_ASCII));
                out.flush();
                return line(check, status(tls.getInputStream()), protocol, sent);
            }
        } catch (Exception e) {
            return line(check, "fail " + describe(e), protocol, sent);
        } finally {
            try {
                plain.close();
            } catch (IOException ignored) {
                // closing is best effort
            }
        }
    }

    /** "ok STATUS", or "no-status WHAT" when no HTTP status line comes back. */
    static String status(InputStream in) {
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        try {
            while (line.size() < MAX_STATUS_LINE) {
                int b = in.read();
                if (b < 0) {
                    return line.size() == 0 ? "no-status closed" : "no-status not-http";
                }
                if (b == '\n') {
                    break;
                }
                line.write(b);
            }
        } catch (SocketTimeoutException e) {
            return "no-status timeout";
        } catch (IOException e) {
            return line.size() == 0 ? "no-status closed (" + describe(e) + ")"
                    : "no-status not-http";
        }
        String text = line.toString(StandardCharsets.ISO_8859_1).strip();
        String[] parts = text.split(" ", 3);
        if (parts.length >= 2 && parts[0].startsWith("HTTP/") && parts[1].matches("\\d{3}")) {
            return "ok " + parts[1];
        }
        return "no-status not-http";
    }

    static String names(List<SNIServerName> names) {
        if (names == null || names.isEmpty()) {
            return "-";
        }
        List<String> out = new ArrayList<>();
        for (SNIServerName name : names) {
            out.add(name instanceof SNIHostName host ? host.getAsciiName() : name.toString());
        }
        return String.join(",", out);
    }

    static String describe(Throwable e) {
        StringBuilder text = new StringBuilder(e.getClass().getName() + ": " + e.getMessage());
        Throwable root = e;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        if (root != e && !String.valueOf(root.getMessage()).equals(e.getMessage())) {
            text.append(" <- ").append(root.getClass().getName()).append(": ")
                    .append(root.getMessage());
        }
        return text.toString();
    }

    static String line(Check check, String outcome, String protocol, String sent) {
        return String.join("\t", check.id(), clean(outcome), clean(protocol), clean(sent));
    }

    static String clean(String text) {
        return text.replaceAll("[\\t\\r\\n]+", " ");
    }
}
