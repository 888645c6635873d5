"""tools/slurm-sweep.sh on a real, throw-away single-node Slurm: munged, slurmctld and slurmd are
started here on localhost (Debian's munge and slurm-wlm), with a generated munge key and
slurm.conf in a temporary folder and their own ports, and stopped afterwards. The array of 3
shards and the dependent merge job must produce the document of the unsharded run.

Skipped, with the reason, when the packages are missing; a cluster that does not come up in 60 s
fails the test with the daemons' logs.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_sweep import BIN, FIXTURE, SOURCE_DIR, TIMEOUT_S, assert_same_results, make_model, sweep_json  # noqa: E402

DAEMONS = ["/usr/sbin/munged", "/usr/sbin/slurmctld", "/usr/sbin/slurmd"]
CLIENTS = ["sbatch", "squeue", "sinfo", "scontrol"]
MISSING = [p for p in DAEMONS if not os.path.exists(p)] + [c for c in CLIENTS if shutil.which(c) is None]
SWEEP_ARGS = ["--keep-rates", "1.0,0.25", "--mask", "learned,oracle", "--threads", "1"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalSlurm:
    """munged + slurmctld + slurmd for the current user on this host, all files under `root`."""

    def __init__(self, root):
        self.root = root
        self.procs = []
        self.env = dict(os.environ, SLURM_CONF=os.path.join(root, "slurm.conf"))

    def start(self):
        r = self.root
        for sub in ("state", "spool", "munge"):
            os.makedirs(os.path.join(r, sub), mode=0o700, exist_ok=True)
        key = os.path.join(r, "munge", "munge.key")
        with open(os.open(key, os.O_WRONLY | os.O_CREAT, 0o600), "wb") as f:
            f.write(os.urandom(1024))
        self.socket = os.path.join(r, "munge", "munge.socket")
        self.spawn(["/usr/sbin/munged", "--foreground", "--force", "--key-file", key, "--socket", self.socket,
                    "--pid-file", os.path.join(r, "munge", "munged.pid"),
                    "--log-file", os.path.join(r, "munged.log"), "--seed-file", os.path.join(r, "munge", "seed")])
        self.wait_for(lambda: os.path.exists(self.socket), "munged socket", "munged.log")
        node = subprocess.run(["/usr/sbin/slurmd", "-C"], capture_output=True, text=True).stdout.splitlines()[0]
        host = node.split()[0].split("=")[1]
        user = subprocess.run(["id", "-un"], capture_output=True, text=True).stdout.strip()
        conf = "\n".join([
            "ClusterName=sweeptest", "SlurmctldHost=%s(127.0.0.1)" % host,
            "SlurmctldPort=%d" % free_port(), "SlurmdPort=%d" % free_port(),
            "AuthType=auth/munge", "CredType=cred/munge", "AuthInfo=socket=%s" % self.socket,
            "SlurmUser=%s" % user, "SlurmdUser=%s" % user,
            "StateSaveLocation=%s/state" % r, "SlurmdSpoolDir=%s/spool" % r,
            "SlurmctldPidFile=%s/slurmctld.pid" % r, "SlurmdPidFile=%s/slurmd.pid" % r,
            "SlurmctldLogFile=%s/slurmctld.log" % r, "SlurmdLogFile=%s/slurmd.log" % r,
            "ProctrackType=proctrack/linuxproc", "TaskPlugin=task/none", "MpiDefault=none",
            "JobAcctGatherType=jobacct_gather/none", "AccountingStorageType=accounting_storage/none",
            "SchedulerType=sched/builtin", "SelectType=select/cons_tres", "SelectTypeParameters=CR_Core",
            "ReturnToService=2", "SlurmdTimeout=30", "InactiveLimit=0", "MinJobAge=300",
            node + " NodeAddr=127.0.0.1 State=UNKNOWN",
            "PartitionName=sweep Nodes=%s Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4" % host, ""])
        with open(self.env["SLURM_CONF"], "w") as f:
            f.write(conf)
        self.spawn(["/usr/sbin/slurmctld", "-D", "-i", "-f", self.env["SLURM_CONF"]])
        self.spawn(["/usr/sbin/slurmd", "-D", "-f", self.env["SLURM_CONF"], "-N", host])

        def node_idle():
            out = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, env=self.env).stdout
            return "idle" in out
        self.wait_for(node_idle, "an idle Slurm node", "slurmctld.log", "slurmd.log")

    def spawn(self, args):
        self.procs.append(subprocess.Popen(args, env=self.env, stdout=subprocess.DEVNULL,
                                           stderr=open(os.path.join(self.root, os.path.basename(args[0]) + ".err"),
                                                       "w")))

    def wait_for(self, ready, what, *logs):
        deadline = time.time() + 60
        while time.time() < deadline:
            if ready():
                return
            dead = [p.args[0] for p in self.procs if p.poll() is not None]
            if dead:
                break
            time.sleep(0.5)
        text = ""
        for name in list(logs) + [os.path.basename(d) + ".err" for d in DAEMONS]:
            path = os.path.join(self.root, name)
            if os.path.exists(path):
                text += "\n--- %s\n%s" % (name, open(path).read()[-3000:])
        raise AssertionError("local Slurm: no %s within 60 s%s" % (what, text))

    def stop(self):
        for p in reversed(self.procs):  # only the daemons this test started, by their pid
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in reversed(self.procs):
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


@unittest.skipIf(BIN is None, "SPARSIFINER_BIN is not set")
@unittest.skipIf(MISSING, "Slurm test skipped: missing %s (Debian packages slurm-wlm and munge)" % ", ".join(MISSING))
class SweepSlurmTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="sweep_slurm_")
        os.chmod(self.tmp, 0o700)
        self.slurm = LocalSlurm(os.path.join(self.tmp, "slurm"))
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.addCleanup(self.slurm.stop)
        self.slurm.start()

    def test_array_and_merge_equal_the_unsharded_run(self):
        model = make_model(self.tmp)
        whole = sweep_json(["-m", model, "--data", FIXTURE] + SWEEP_ARGS)
        out = os.path.join(self.tmp, "sweep.json")
        script = os.path.join(SOURCE_DIR, "tools", "slurm-sweep.sh")
        result = subprocess.run(["bash", script, "--shards", "3", "--out", out, "--bin", BIN, "--wait", "--",
                                 "-m", model, "--data", FIXTURE] + SWEEP_ARGS,
                                capture_output=True, text=True, env=self.slurm.env, timeout=TIMEOUT_S)
        logs = ""
        parts = out + ".parts"
        if os.path.isdir(parts):
            for name in sorted(os.listdir(parts)):
                if name.endswith(".log"):
                    logs += "\n--- %s\n%s" % (name, open(os.path.join(parts, name)).read()[-2000:])
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr + logs)
        self.assertIn("array job", result.stdout)
        merged = json.load(open(out))
        self.assertEqual(len(merged["merged_from"]), 3)
        self.assertEqual(sorted(m["shard"]["index"] for m in merged["merged_from"]), [1, 2, 3])
        assert_same_results(self, merged, whole)


if __name__ == "__main__":
    unittest.main(verbosity=2)
