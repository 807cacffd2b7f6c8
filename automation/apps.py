from django.apps import AppConfig


class AutomationConfig(AppConfig):
    name = "automation"
    verbose_name = "Automation"

    def ready(self) -> None:
        from automation.service import grant_waits_for_publish, make_live_on_publish, record_scheduled_run
        from macros.config_tabs import ConfigTab, register_tab
        from macros.pages import page_published, pending_publish_checks
        from macros.schedules import scheduled_run

        register_tab(ConfigTab("automation", "Automation", "macro_automation"))
        page_published.connect(make_live_on_publish, dispatch_uid="automation.make_live_on_publish")
        scheduled_run.connect(record_scheduled_run, dispatch_uid="automation.record_scheduled_run")
        if grant_waits_for_publish not in pending_publish_checks:
            pending_publish_checks.append(grant_waits_for_publish)
