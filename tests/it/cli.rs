//! Command-line behaviour that needs no provider: usage errors, init, bad config.

use crate::support::Sandbox;

#[tokio::test]
async fn usage_errors_exit_64_not_2() {
    let sb = Sandbox::new();
    let run = sb.run(&["send"]).await;
    run.assert_code(64);
    assert!(run.stderr.contains("--title"), "{}", run.stderr);
    sb.run(&["frobnicate"]).await.assert_code(64);
    sb.run(&["send", "--title", "x", "--timeout", "0"])
        .await
        .assert_code(64);
    sb.run(&["send", "--title", "x", "--provider", "pigeon"])
        .await
        .assert_code(64);
}

#[tokio::test]
async fn help_and_version_exit_0() {
    let sb = Sandbox::new();
    let run = sb.run(&["--help"]).await;
    run.assert_code(0);
    assert!(run.stdout.contains("send"));
    sb.run(&["--version"]).await.assert_code(0);
}

#[tokio::test]
async fn init_writes_a_private_template_and_refuses_to_overwrite() {
    use std::os::unix::fs::PermissionsExt;
    let sb = Sandbox::new();
    sb.run(&["init"]).await.assert_code(0);
    let path = sb.default_config_path();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("[telegram]") && text.contains("trusted_user_ids"));
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );

    std::fs::write(&path, "# mine\n").unwrap();
    let run = sb.run(&["init"]).await;
    run.assert_code(73);
    assert!(run.stderr.contains("--force"), "{}", run.stderr);
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "# mine\n",
        "nothing lost"
    );
    sb.run(&["init", "--force"]).await.assert_code(0);
    assert!(
        std::fs::read_to_string(&path)
            .unwrap()
            .contains("[telegram]")
    );
}

#[tokio::test]
async fn init_honours_config_flag_and_env() {
    let sb = Sandbox::new();
    let flag = sb.path().join("work/flag.toml");
    sb.run(&["init", "--config", flag.to_str().unwrap()])
        .await
        .assert_code(0);
    assert!(flag.exists());
    let env = sb.path().join("work/env.toml");
    let mut cmd = sb.command(&["init"]);
    cmd.env("OPENFEEDBACK_CONFIG", &env);
    crate::support::Run::wait(cmd.spawn().unwrap())
        .await
        .assert_code(0);
    assert!(env.exists());
}

#[tokio::test]
async fn the_template_itself_is_refused_until_filled_in() {
    let sb = Sandbox::new();
    sb.run(&["init"]).await.assert_code(0);
    let run = sb.run(&["send", "--title", "x"]).await;
    run.assert_code(78);
    assert!(run.stderr.contains("telegram.bot_token"), "{}", run.stderr);
    assert!(
        run.stderr.contains("config.toml:"),
        "names the file and line: {}",
        run.stderr
    );
}

#[tokio::test]
async fn config_errors_name_file_line_and_key() {
    let sb = Sandbox::new();
    let cases: &[(&str, &str, &str)] = &[
        (
            "default_provider = \"telegram\"\nbogus = 1\n",
            ":2",
            "bogus",
        ),
        ("default_timeout = \"soon\"\n", ":1", "default_timeout"),
        (
            "default_provider = \"telegram\"\n[telegram]\nbot_token = \"1:a\"\nchat_id = 0\n",
            ":4",
            "telegram.chat_id",
        ),
        ("locale = \"fr\"\n", ":1", "locale"),
        (
            "default_provider = \"discord\"\n",
            ":1",
            "[discord] section is missing",
        ),
        ("[telegram\n", ":1", "config error"),
    ];
    for (text, line, key) in cases {
        let path = sb.write_config(text);
        let run = sb
            .run(&["send", "--title", "x", "--config", path.to_str().unwrap()])
            .await;
        run.assert_code(78);
        assert!(
            run.stderr.contains(&format!("config.toml{line}")),
            "{text:?}: {}",
            run.stderr
        );
        assert!(run.stderr.contains(key), "{text:?}: {}", run.stderr);
        assert!(run.stdout.is_empty());
    }
}

#[tokio::test]
async fn a_missing_config_file_named_explicitly_is_an_error() {
    let sb = Sandbox::new();
    let run = sb
        .run(&["send", "--title", "x", "--config", "/nonexistent/of.toml"])
        .await;
    run.assert_code(78);
    assert!(
        run.stderr.contains("/nonexistent/of.toml"),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn a_missing_body_file_names_the_path() {
    let sb = Sandbox::new();
    let path = sb.write_config(
        "default_provider = \"telegram\"\n[telegram]\nbot_token = \"1:a\"\nchat_id = 5\n",
    );
    let run = sb
        .run(&[
            "send",
            "--title",
            "x",
            "--body-file",
            "/no/such/body.md",
            "--config",
            path.to_str().unwrap(),
        ])
        .await;
    run.assert_code(65);
    assert!(run.stderr.contains("/no/such/body.md"), "{}", run.stderr);
}
