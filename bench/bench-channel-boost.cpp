// SPDX-License-Identifier: MIT
//
// bench-channel-boost: the Boost.Interprocess message_queue baseline of bench-channel, as a
// program of its own (C++), run by bench-channel once per round with the same counts, sizes
// and CPUs as memcap's channel. It measures the same things the same way:
//
//   bench-channel-boost throughput COUNT SIZE CPU_PRODUCER CPU_CONSUMER
//       COUNT messages of SIZE bytes from this process to a forked consumer, through one
//       queue of 1024 messages; prints the nanoseconds from the first send to the consumer's
//       last receive (CLOCK_MONOTONIC, which both processes share).
//   bench-channel-boost rtt COUNT SIZE CPU_PRODUCER CPU_CONSUMER
//       COUNT round trips through two queues, each timed; prints "MEDIAN_NS P99_NS".
//
// The first 8 bytes of every message carry its sequence number and are checked. The consumer
// is set up and has said so before the clock starts. Exit status: 0, 1 on any failure
// (printed on stderr), 2 for bad arguments.

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <sched.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <boost/interprocess/ipc/message_queue.hpp>

namespace bip = boost::interprocess;

static uint64_t now_ns() {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

static void pin(int cpu) {
        cpu_set_t set;

        if (cpu < 0)
                return;
        CPU_ZERO(&set);
        CPU_SET(cpu, &set);
        if (sched_setaffinity(0, sizeof(set), &set) < 0) {
                perror("bench-channel-boost: sched_setaffinity");
                exit(1);
        }
}

static void write_all(int fd, const void *p, size_t n) {
        if (write(fd, p, n) != (ssize_t) n) {
                perror("bench-channel-boost: write");
                exit(1);
        }
}

static void read_all(int fd, void *p, size_t n) {
        if (read(fd, p, n) != (ssize_t) n) {
                perror("bench-channel-boost: read");
                exit(1);
        }
}

int main(int argc, char **argv) {
        if (argc != 6 || (strcmp(argv[1], "throughput") != 0 && strcmp(argv[1], "rtt") != 0)) {
                fprintf(stderr, "usage: bench-channel-boost throughput|rtt COUNT SIZE CPU_PRODUCER "
                                "CPU_CONSUMER\n");
                return 2;
        }
        const bool rtt = strcmp(argv[1], "rtt") == 0;
        const uint64_t count = strtoull(argv[2], nullptr, 10);
        const size_t size = strtoull(argv[3], nullptr, 10);
        const int cpu_p = atoi(argv[4]), cpu_c = atoi(argv[5]);
        if (count == 0 || size < 8 || size > (1 << 20))
                return 2;

        const std::string req = "memcap-bench-bq-" + std::to_string(getpid()) + "-req";
        const std::string rep = "memcap-bench-bq-" + std::to_string(getpid()) + "-rep";
        bip::message_queue::remove(req.c_str());
        bip::message_queue::remove(rep.c_str());
        int sync[2];
        if (pipe(sync) < 0)
                return 1;
        int status = 0;
        try {
                bip::message_queue q(bip::create_only, req.c_str(), rtt ? 1 : 1024, size);
                bip::message_queue r(bip::create_only, rep.c_str(), 1, size);
                std::vector<char> buf(size);
                pid_t pid = fork();
                if (pid == 0) {
                        pin(cpu_c);
                        uint64_t t1, seq;
                        size_t got;
                        unsigned prio;
                        write_all(sync[1], "r", 1);
                        for (uint64_t i = 0; i < count; i++) {
                                q.receive(buf.data(), size, got, prio);
                                memcpy(&seq, buf.data(), 8);
                                if (got != size || seq != i) {
                                        fprintf(stderr, "bench-channel-boost: message %llu wrong\n",
                                                (unsigned long long) i);
                                        _exit(1);
                                }
                                if (rtt)
                                        r.send(buf.data(), size, 0);
                        }
                        t1 = now_ns();
                        write_all(sync[1], &t1, sizeof(t1));
                        _exit(0);
                }
                if (pid < 0)
                        return 1;
                pin(cpu_p);
                char c;
                read_all(sync[0], &c, 1);
                std::vector<double> samples;
                if (rtt)
                        samples.reserve(count);
                uint64_t t0 = now_ns(), t1;
                for (uint64_t i = 0; i < count; i++) {
                        uint64_t t = rtt ? now_ns() : 0;
                        memcpy(buf.data(), &i, 8);
                        q.send(buf.data(), size, 0);
                        if (rtt) {
                                size_t got;
                                unsigned prio;
                                r.receive(buf.data(), size, got, prio);
                                samples.push_back((double) (now_ns() - t));
                        }
                }
                read_all(sync[0], &t1, sizeof(t1));
                if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
                    WEXITSTATUS(status) != 0) {
                        fprintf(stderr, "bench-channel-boost: the consumer failed\n");
                        status = 1;
                } else if (rtt) {
                        std::sort(samples.begin(), samples.end());
                        size_t n = samples.size();
                        double med = n % 2 ? samples[n / 2]
                                           : (samples[n / 2 - 1] + samples[n / 2]) / 2;
                        printf("%.1f %.1f\n", med, samples[(size_t) ((double) (n - 1) * 0.99)]);
                } else {
                        printf("%llu\n", (unsigned long long) (t1 - t0));
                }
        } catch (const bip::interprocess_exception &e) {
                fprintf(stderr, "bench-channel-boost: %s\n", e.what());
                status = 1;
        }
        bip::message_queue::remove(req.c_str());
        bip::message_queue::remove(rep.c_str());
        return status ? 1 : 0;
}
