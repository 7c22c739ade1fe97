# Reference values from R's lme4/lmerTest (REML, Satterthwaite df) for the incomplete designs in data/.
#   Rscript tests/analysis/lme4/reference.R > tests/analysis/lme4/reference.csv
# (Debian: apt-get install r-cran-lmertest.) Each design is fitted twice with BOBYQA: with tolerances tightened
# to find the optimum to machine precision ("tight", what the tests compare against) and with lme4's defaults
# ("default", for the record). Models: d ~ 1 + (1|annotator) + (1|item), and d ~ 1 + x + (1|annotator) + (1|item)
# (the position model).
suppressPackageStartupMessages(library(lmerTest))
here <- dirname(normalizePath(sub("--file=", "", grep("--file=", commandArgs(FALSE), value = TRUE))))
controls <- list(
  tight = lmerControl(optimizer = "nloptwrap",
                      optCtrl = list(algorithm = "NLOPT_LN_BOBYQA", xtol_abs = 1e-13, ftol_abs = 1e-15,
                                     xtol_rel = 0, ftol_rel = 0, maxeval = 100000)),
  default = lmerControl()
)
formulas <- list(intercept = d ~ 1 + (1 | annotator) + (1 | item),
                 position = d ~ 1 + x + (1 | annotator) + (1 | item))
rows <- list()
for (path in sort(Sys.glob(file.path(here, "data", "*.csv")))) {
  data <- read.csv(path)
  data$annotator <- factor(data$annotator)
  data$item <- factor(data$item)
  for (model in names(formulas)) for (control in names(controls)) {
    fit <- suppressMessages(suppressWarnings(lmer(formulas[[model]], data = data, REML = TRUE,
                                                  control = controls[[control]])))
    coefs <- summary(fit, ddf = "Satterthwaite")$coefficients
    vc <- as.data.frame(VarCorr(fit))
    for (term in rownames(coefs)) {
      rows[[length(rows) + 1]] <- data.frame(
        design = sub("\\.csv$", "", basename(path)), model = model, control = control, term = term,
        estimate = coefs[term, "Estimate"], se = coefs[term, "Std. Error"], df = coefs[term, "df"],
        t = coefs[term, "t value"], p = coefs[term, "Pr(>|t|)"],
        var_annotator = vc$vcov[vc$grp == "annotator"], var_item = vc$vcov[vc$grp == "item"],
        var_residual = vc$vcov[vc$grp == "Residual"], deviance = REMLcrit(fit), singular = isSingular(fit),
        n = nrow(data), annotators = nlevels(data$annotator), items = nlevels(data$item))
    }
  }
}
out <- do.call(rbind, rows)
cat(sprintf("# %s; lme4 %s; lmerTest %s\n", R.version.string, packageVersion("lme4"), packageVersion("lmerTest")))
write.csv(format(out, digits = 17), stdout(), row.names = FALSE, quote = FALSE)
