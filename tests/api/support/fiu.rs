//! libfiu, a fault injector, around a `serve` child process (Debian's `fiu-utils`): `fiu-run -x`
//! preloads libfiu's POSIX fault points into the server and opens its remote-control pipes,
//! `<prefix>-<pid>.in` and `.out`; `fiu-ctrl` sends commands through them while the server runs,
//! e.g. `enable_random name=posix/io/sync/fsync,probability=0.2,failinfo=5` (fail with EIO).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::process::Process;
use crate::support::launch::{EXIT_TIMEOUT, Launch};
use crate::support::server::ServeProcess;

/// The remote control of servers started under `fiu-run`.
pub struct Fiu {
    prefix: PathBuf,
}

impl Fiu {
    /// Whether `fiu-run` and `fiu-ctrl` can be run.
    pub fn installed() -> bool {
        ["fiu-run", "fiu-ctrl"].into_iter().all(|tool| {
            let help = Command::new(tool)
                .arg("-h")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            help.is_ok()
        })
    }

    /// Control pipes in `dir` (a directory of the test's own, so tests never share them).
    pub fn in_dir(dir: &Path) -> Fiu {
        Fiu {
            prefix: dir.join("fiu-ctrl"),
        }
    }

    /// `launch` under `fiu-run -x`, which execs the server: the child process is the server.
    pub fn launch(&self, launch: Launch) -> Launch {
        let prefix = self.prefix.to_str().expect("a UTF-8 temporary directory");
        launch.wrapped_in("fiu-run", &["-x", "-f", prefix])
    }

    /// Runs libfiu remote-control commands in `server`, in order.
    pub async fn control(&self, server: &ServeProcess, commands: &[String]) {
        let mut command = Command::new("fiu-ctrl");
        command.arg("-f").arg(&self.prefix);
        for each in commands {
            command.arg("-c").arg(each);
        }
        command.arg(server.pid().to_string());
        let exit = Process::spawn(command)
            .expect_exit(EXIT_TIMEOUT, "fiu-ctrl")
            .await;
        // fiu-ctrl exits 0 even when the process or a command is refused; it says so on stdout.
        assert!(
            exit.status.success() && exit.stdout.is_empty() && exit.stderr.is_empty(),
            "fiu-ctrl {commands:?}: {exit:?}"
        );
    }
}
